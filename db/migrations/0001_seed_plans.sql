-- The plans on offer. Changing a plan is a new migration, so every environment agrees.
INSERT INTO "plans" ("name", "cpu", "memory", "pods", "replicas", "price_per_hour_cents") VALUES
	('starter', '1', '2Gi', 10, 1, 5),
	('standard', '2', '4Gi', 20, 2, 15),
	('pro', '4', '8Gi', 40, 3, 40)
ON CONFLICT ("name") DO NOTHING;
