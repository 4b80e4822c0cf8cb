CREATE TYPE "public"."api_role" AS ENUM('admin', 'operator', 'viewer');--> statement-breakpoint
CREATE TYPE "public"."instance_status" AS ENUM('provisioning', 'ready', 'upgrading', 'suspending', 'suspended', 'resuming', 'deleting', 'deleted', 'failed');--> statement-breakpoint
CREATE TYPE "public"."operation_kind" AS ENUM('provision', 'upgrade', 'suspend', 'resume', 'teardown');--> statement-breakpoint
CREATE TYPE "public"."operation_status" AS ENUM('running', 'succeeded', 'failed', 'rolled_back', 'cancelled');--> statement-breakpoint
CREATE TABLE "api_keys" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"role" "api_role" NOT NULL,
	"hash" text NOT NULL,
	"prefix" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "api_keys_hash_unique" UNIQUE("hash")
);
--> statement-breakpoint
CREATE TABLE "events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"key" text,
	"instance_id" text,
	"operation_id" text,
	"actor" text NOT NULL,
	"action" text NOT NULL,
	"outcome" text NOT NULL,
	"message" text,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "events_key_unique" UNIQUE("key")
);
--> statement-breakpoint
CREATE TABLE "idempotency_records" (
	"api_key_id" text NOT NULL,
	"key" text NOT NULL,
	"request_hash" text NOT NULL,
	"response_status" integer,
	"response_body" jsonb,
	"response_headers" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "idempotency_records_pk" PRIMARY KEY("api_key_id","key")
);
--> statement-breakpoint
CREATE TABLE "instances" (
	"id" text PRIMARY KEY NOT NULL,
	"slug" text NOT NULL,
	"name" text NOT NULL,
	"plan" text NOT NULL,
	"version" text NOT NULL,
	"status" "instance_status" NOT NULL,
	"owner_email" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "instances_slug_unique" UNIQUE("slug")
);
--> statement-breakpoint
CREATE TABLE "operations" (
	"id" text PRIMARY KEY NOT NULL,
	"instance_id" text NOT NULL,
	"kind" "operation_kind" NOT NULL,
	"status" "operation_status" NOT NULL,
	"steps" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"error" text,
	"workflow_id" text NOT NULL,
	"run_id" text,
	"actor" text NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ended_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "plans" (
	"name" text PRIMARY KEY NOT NULL,
	"cpu" text NOT NULL,
	"memory" text NOT NULL,
	"pods" integer NOT NULL,
	"replicas" integer NOT NULL,
	"price_per_hour_cents" integer NOT NULL,
	CONSTRAINT "plans_pods_positive" CHECK ("plans"."pods" > 0),
	CONSTRAINT "plans_replicas_positive" CHECK ("plans"."replicas" > 0),
	CONSTRAINT "plans_price_not_negative" CHECK ("plans"."price_per_hour_cents" >= 0)
);
--> statement-breakpoint
ALTER TABLE "events" ADD CONSTRAINT "events_instance_id_instances_id_fk" FOREIGN KEY ("instance_id") REFERENCES "public"."instances"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "events" ADD CONSTRAINT "events_operation_id_operations_id_fk" FOREIGN KEY ("operation_id") REFERENCES "public"."operations"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "instances" ADD CONSTRAINT "instances_plan_plans_name_fk" FOREIGN KEY ("plan") REFERENCES "public"."plans"("name") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "operations" ADD CONSTRAINT "operations_instance_id_instances_id_fk" FOREIGN KEY ("instance_id") REFERENCES "public"."instances"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "api_keys_live_name_unique" ON "api_keys" USING btree ("name") WHERE "api_keys"."revoked_at" is null;--> statement-breakpoint
CREATE INDEX "events_instance_idx" ON "events" USING btree ("instance_id","id");--> statement-breakpoint
CREATE INDEX "operations_instance_idx" ON "operations" USING btree ("instance_id","started_at");--> statement-breakpoint
CREATE INDEX "operations_running_idx" ON "operations" USING btree ("instance_id") WHERE "operations"."status" = 'running';