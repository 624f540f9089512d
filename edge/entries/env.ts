// The environment variables the Workers and Deno entries read, checked once with zod. (The Node entry
// gets its configuration from the stack's own schema, node-runtime/config.ts.)
import { z } from 'zod';
import type { EdgeConfigInput } from '../app.js';

export const EdgeEnvSchema = z.object({
  /** HS256 secret shared with the session hosts; its length is checked by the app's own config. */
  EDGE_HOST_SECRET: z.string().min(1),
});

export type EdgeEnvVars = z.infer<typeof EdgeEnvSchema>;

/** The app's configuration from already-parsed variables. */
export function edgeConfigFrom(env: EdgeEnvVars): EdgeConfigInput {
  return { hostSecret: env.EDGE_HOST_SECRET };
}

/** Parses `env` with `schema`; the error names the bad variables and never echoes a value. */
export function parseEnv<T extends z.ZodType>(schema: T, env: unknown): z.output<T> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`);
  throw new Error(`invalid edge environment: ${problems.join('; ')}`);
}
