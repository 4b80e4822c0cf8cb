CREATE TYPE "public"."invoice_status" AS ENUM('draft', 'issued');--> statement-breakpoint
CREATE TYPE "public"."usage_meter" AS ENUM('running_seconds', 'suspended_seconds', 'db_storage_bytes');--> statement-breakpoint
ALTER TYPE "public"."instance_status" ADD VALUE 'changing_plan' BEFORE 'deleting';--> statement-breakpoint
ALTER TYPE "public"."operation_kind" ADD VALUE 'change_plan' BEFORE 'teardown';--> statement-breakpoint
CREATE TABLE "instance_status_changes" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"instance_id" text NOT NULL,
	"status" "instance_status" NOT NULL,
	"plan" text NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "invoice_lines" (
	"invoice_id" text NOT NULL,
	"position" integer NOT NULL,
	"kind" text NOT NULL,
	"instance_id" text NOT NULL,
	"slug" text NOT NULL,
	"plan" text NOT NULL,
	"meter" "usage_meter" NOT NULL,
	"seconds" bigint NOT NULL,
	"unit_price_cents" integer NOT NULL,
	"amount_cents" integer NOT NULL,
	CONSTRAINT "invoice_lines_pk" PRIMARY KEY("invoice_id","position")
);
--> statement-breakpoint
CREATE TABLE "invoices" (
	"id" text PRIMARY KEY NOT NULL,
	"number" text NOT NULL,
	"owner_email" text NOT NULL,
	"period" text NOT NULL,
	"status" "invoice_status" NOT NULL,
	"currency" text NOT NULL,
	"subtotal_cents" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"issued_at" timestamp with time zone,
	CONSTRAINT "invoices_number_unique" UNIQUE("number")
);
--> statement-breakpoint
CREATE TABLE "metering_cursors" (
	"name" text PRIMARY KEY NOT NULL,
	"next_hour" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "storage_samples" (
	"instance_id" text NOT NULL,
	"hour" timestamp with time zone NOT NULL,
	"plan" text NOT NULL,
	"bytes" bigint NOT NULL,
	CONSTRAINT "storage_samples_pk" PRIMARY KEY("instance_id","hour")
);
--> statement-breakpoint
CREATE TABLE "usage_ledger" (
	"instance_id" text NOT NULL,
	"meter" "usage_meter" NOT NULL,
	"plan" text NOT NULL,
	"hour" timestamp with time zone NOT NULL,
	"quantity" bigint NOT NULL,
	"recorded_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "usage_ledger_pk" PRIMARY KEY("instance_id","meter","plan","hour")
);
--> statement-breakpoint
ALTER TABLE "plans" ADD COLUMN "suspended_price_per_hour_cents" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "instance_status_changes" ADD CONSTRAINT "instance_status_changes_instance_id_instances_id_fk" FOREIGN KEY ("instance_id") REFERENCES "public"."instances"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "instance_status_changes" ADD CONSTRAINT "instance_status_changes_plan_plans_name_fk" FOREIGN KEY ("plan") REFERENCES "public"."plans"("name") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "invoice_lines" ADD CONSTRAINT "invoice_lines_invoice_id_invoices_id_fk" FOREIGN KEY ("invoice_id") REFERENCES "public"."invoices"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "invoice_lines" ADD CONSTRAINT "invoice_lines_instance_id_instances_id_fk" FOREIGN KEY ("instance_id") REFERENCES "public"."instances"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "storage_samples" ADD CONSTRAINT "storage_samples_instance_id_instances_id_fk" FOREIGN KEY ("instance_id") REFERENCES "public"."instances"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "storage_samples" ADD CONSTRAINT "storage_samples_plan_plans_name_fk" FOREIGN KEY ("plan") REFERENCES "public"."plans"("name") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "usage_ledger" ADD CONSTRAINT "usage_ledger_instance_id_instances_id_fk" FOREIGN KEY ("instance_id") REFERENCES "public"."instances"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "usage_ledger" ADD CONSTRAINT "usage_ledger_plan_plans_name_fk" FOREIGN KEY ("plan") REFERENCES "public"."plans"("name") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "instance_status_changes_instance_idx" ON "instance_status_changes" USING btree ("instance_id","at");--> statement-breakpoint
CREATE INDEX "invoices_owner_period_idx" ON "invoices" USING btree ("owner_email","period");--> statement-breakpoint
CREATE INDEX "usage_ledger_hour_idx" ON "usage_ledger" USING btree ("hour");--> statement-breakpoint
ALTER TABLE "plans" ADD CONSTRAINT "plans_suspended_price_not_negative" CHECK ("plans"."suspended_price_per_hour_cents" >= 0);--> statement-breakpoint
-- Suspended time costs 10 % of the running price (rounded to the cent).
UPDATE "plans" SET "suspended_price_per_hour_cents" = round("price_per_hour_cents" / 10.0);--> statement-breakpoint
-- History starts with each existing instance as it is now, from its last change.
INSERT INTO "instance_status_changes" ("instance_id", "status", "plan", "at")
SELECT "id", "status", "plan", "updated_at" FROM "instances";
