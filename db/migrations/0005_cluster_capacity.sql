CREATE TABLE "cluster_capacity" (
	"task_queue" text PRIMARY KEY NOT NULL,
	"allocatable_cpu" double precision NOT NULL,
	"allocatable_memory_bytes" double precision NOT NULL,
	"listed_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "namespace_quotas" (
	"task_queue" text NOT NULL,
	"namespace" text NOT NULL,
	"cpu" double precision NOT NULL,
	"memory_bytes" double precision NOT NULL,
	"observed_at" timestamp with time zone NOT NULL,
	CONSTRAINT "namespace_quotas_pk" PRIMARY KEY("task_queue","namespace")
);
