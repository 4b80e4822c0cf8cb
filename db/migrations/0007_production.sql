-- IF NOT EXISTS throughout: development catalogues ran an earlier draft of this migration.
ALTER TYPE "public"."operation_kind" ADD VALUE IF NOT EXISTS 'rotate_credentials';--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN IF NOT EXISTS "owner" text;--> statement-breakpoint
ALTER TABLE "instances" ADD COLUMN IF NOT EXISTS "credentials_rotated_at" timestamp with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "instances_owner_idx" ON "instances" USING btree ("owner_email","id");