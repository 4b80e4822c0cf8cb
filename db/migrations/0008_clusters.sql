-- The catalogue of clusters (registered by each cluster worker at start) and where each instance is placed.
CREATE TABLE "clusters" (
	"name" text PRIMARY KEY NOT NULL,
	"region" text NOT NULL,
	"labels" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"task_queue" text NOT NULL,
	"ingress_target" text NOT NULL,
	"drained" boolean DEFAULT false NOT NULL,
	"registered_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "instances" ADD COLUMN "cluster" text;