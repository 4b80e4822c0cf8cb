-- What a health sweep found offline among the clusters (their instances were not checked).
ALTER TABLE "health_sweeps" ADD COLUMN "offline_clusters" jsonb;