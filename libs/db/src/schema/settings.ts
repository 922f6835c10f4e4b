import { pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/** Process-wide values every API and worker process must agree on, such as a generated webhook secret. */
export const settings = pgTable('settings', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});
