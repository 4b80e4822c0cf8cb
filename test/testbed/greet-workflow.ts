// The smallest workflow there is, bundled by services.test.ts to prove the testbed's Temporal
// server schedules and completes real workflow tasks.
export async function greet(name: string): Promise<string> {
  return `hello, ${name}`;
}
