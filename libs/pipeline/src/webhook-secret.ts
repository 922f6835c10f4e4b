import { eq } from 'drizzle-orm';
import { settings, type Database } from '@renditions/db';
import { generateWebhookSecret } from '@renditions/events';
import type { Logger } from '@renditions/observability';

const SETTING_KEY = 'webhook_secret';

/**
 * WEBHOOK_SECRET when set; otherwise a secret generated once and kept in the database, so the API and every
 * worker sign alike and receivers keep verifying across restarts. Logged when generated, for the operator.
 */
export function webhookSecretProvider(db: Database, configured: string | null, logger: Logger): () => Promise<string> {
  let cached: Promise<string> | undefined = configured ? Promise.resolve(configured) : undefined;
  return () => {
    cached ??= (async () => {
      const candidate = generateWebhookSecret();
      const inserted = await db
        .insert(settings)
        .values({ key: SETTING_KEY, value: candidate })
        .onConflictDoNothing()
        .returning({ value: settings.value });
      if (inserted.length > 0) {
        logger.warn({ webhookSecret: candidate }, 'WEBHOOK_SECRET is unset: generated one; set it to keep it explicit');
        return candidate;
      }
      const [row] = await db.select().from(settings).where(eq(settings.key, SETTING_KEY));
      return row!.value;
    })().catch((error: unknown) => {
      cached = undefined;
      throw error;
    });
    return cached;
  };
}
