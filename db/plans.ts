// Plans (catalogue rows seeded by migrations) and the plans the live instances hold.
import { and, asc, eq, type SQL, sql } from 'drizzle-orm';
import type { Plan } from '../domain/instance';
import type { Database, Transaction } from './client';
import { instances, plans } from './schema';

export async function listPlans(db: Database): Promise<Plan[]> {
  return db.select().from(plans).orderBy(asc(plans.pricePerHourCents));
}

export async function getPlan(db: Database, name: string): Promise<Plan | undefined> {
  const [plan] = await db.select().from(plans).where(eq(plans.name, name));
  return plan;
}

/**
 * The plan of every instance that holds or is about to hold a namespace quota (not deleted, not
 * failed — a failed instance that kept its namespace shows in the cluster's own quotas).
 */
export async function livePlans(db: Database | Transaction): Promise<{ slug: string; cpu: string; memory: string }[]> {
  return livePlansWhere(db);
}

/** livePlans of the instances `also` holds for. */
export async function livePlansWhere(db: Database | Transaction, also?: SQL): Promise<{ slug: string; cpu: string; memory: string }[]> {
  return db
    .select({ slug: instances.slug, cpu: plans.cpu, memory: plans.memory })
    .from(instances)
    .innerJoin(plans, eq(plans.name, instances.plan))
    .where(and(sql`${instances.status} <> 'deleted'`, sql`${instances.status} <> 'failed'`, also));
}
