-- Moving an instance between clusters: the operation, and the backup it takes first.
ALTER TYPE "public"."operation_kind" ADD VALUE IF NOT EXISTS 'move';--> statement-breakpoint
ALTER TYPE "public"."backup_kind" ADD VALUE IF NOT EXISTS 'pre-move';
