CREATE TYPE "public"."backup_kind" AS ENUM('manual', 'scheduled', 'final', 'pre-restore');--> statement-breakpoint
CREATE TYPE "public"."backup_status" AS ENUM('running', 'completed', 'failed', 'expired');--> statement-breakpoint
ALTER TYPE "public"."instance_status" ADD VALUE 'restoring' BEFORE 'deleting';--> statement-breakpoint
ALTER TYPE "public"."usage_meter" ADD VALUE 'backup_storage_bytes';--> statement-breakpoint
ALTER TYPE "public"."operation_kind" ADD VALUE 'backup';--> statement-breakpoint
ALTER TYPE "public"."operation_kind" ADD VALUE 'restore';--> statement-breakpoint
CREATE TABLE "backups" (
	"id" text PRIMARY KEY NOT NULL,
	"instance_id" text NOT NULL,
	"operation_id" text NOT NULL,
	"kind" "backup_kind" NOT NULL,
	"status" "backup_status" DEFAULT 'running' NOT NULL,
	"bucket" text NOT NULL,
	"object_prefix" text NOT NULL,
	"parts" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"size_bytes" bigint DEFAULT 0 NOT NULL,
	"encryption_key_id" text,
	"postgres_version" text,
	"app_version" text NOT NULL,
	"plan" text NOT NULL,
	"error" text,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"completed_at" timestamp with time zone,
	"expires_at" timestamp with time zone,
	"expired_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "instances" ADD COLUMN "purge_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "plans" ADD COLUMN "backup_every_hours" double precision;--> statement-breakpoint
ALTER TABLE "plans" ADD COLUMN "backup_keep_count" integer DEFAULT 7 NOT NULL;--> statement-breakpoint
ALTER TABLE "plans" ADD COLUMN "backup_keep_days" integer DEFAULT 30 NOT NULL;--> statement-breakpoint
ALTER TABLE "plans" ADD COLUMN "backup_price_per_gb_month_cents" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "backups" ADD CONSTRAINT "backups_instance_id_instances_id_fk" FOREIGN KEY ("instance_id") REFERENCES "public"."instances"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "backups" ADD CONSTRAINT "backups_operation_id_operations_id_fk" FOREIGN KEY ("operation_id") REFERENCES "public"."operations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "backups_instance_idx" ON "backups" USING btree ("instance_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "backups_operation_kind_unique" ON "backups" USING btree ("operation_id","kind");--> statement-breakpoint
CREATE INDEX "backups_status_idx" ON "backups" USING btree ("status");--> statement-breakpoint
ALTER TABLE "plans" ADD CONSTRAINT "plans_backup_every_hours_positive" CHECK ("plans"."backup_every_hours" is null or "plans"."backup_every_hours" > 0);--> statement-breakpoint
ALTER TABLE "plans" ADD CONSTRAINT "plans_backup_keep_count_positive" CHECK ("plans"."backup_keep_count" > 0);--> statement-breakpoint
ALTER TABLE "plans" ADD CONSTRAINT "plans_backup_keep_days_not_negative" CHECK ("plans"."backup_keep_days" >= 0);--> statement-breakpoint
ALTER TABLE "plans" ADD CONSTRAINT "plans_backup_price_not_negative" CHECK ("plans"."backup_price_per_gb_month_cents" >= 0);--> statement-breakpoint
-- Every plan on offer backs up daily or more often; a GB kept for a month costs 10 cents.
UPDATE "plans" SET "backup_every_hours" = 24, "backup_price_per_gb_month_cents" = 10 WHERE "name" = 'starter';--> statement-breakpoint
UPDATE "plans" SET "backup_every_hours" = 12, "backup_keep_count" = 14, "backup_price_per_gb_month_cents" = 10 WHERE "name" = 'standard';--> statement-breakpoint
UPDATE "plans" SET "backup_every_hours" = 6, "backup_keep_count" = 28, "backup_price_per_gb_month_cents" = 10 WHERE "name" = 'pro';
