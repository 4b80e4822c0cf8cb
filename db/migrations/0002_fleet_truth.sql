ALTER TYPE "public"."operation_kind" ADD VALUE 'cleanup';--> statement-breakpoint
DROP INDEX "operations_running_idx";--> statement-breakpoint
ALTER TABLE "plans" ADD COLUMN "db_connections" integer DEFAULT 10 NOT NULL;--> statement-breakpoint
CREATE INDEX "instances_status_idx" ON "instances" USING btree ("status","id");--> statement-breakpoint
-- Older catalogues could hold two running rows for one instance (a run that closed without writing
-- its row): keep the newest, finish the rest so the unique index below can be built.
UPDATE "operations" SET "status" = 'failed', "error" = 'superseded: the workflow closed without recording its result', "ended_at" = now()
WHERE "status" = 'running' AND "id" NOT IN (
  SELECT DISTINCT ON ("instance_id") "id" FROM "operations" WHERE "status" = 'running' ORDER BY "instance_id", "started_at" DESC, "id" DESC
);--> statement-breakpoint
CREATE UNIQUE INDEX "operations_one_running_per_instance" ON "operations" USING btree ("instance_id") WHERE "operations"."status" = 'running';--> statement-breakpoint
ALTER TABLE "plans" ADD CONSTRAINT "plans_db_connections_positive" CHECK ("plans"."db_connections" > 0);--> statement-breakpoint
-- Connection limits of the plans on offer.
UPDATE "plans" SET "db_connections" = CASE "name" WHEN 'starter' THEN 5 WHEN 'standard' THEN 10 WHEN 'pro' THEN 20 ELSE "db_connections" END;
