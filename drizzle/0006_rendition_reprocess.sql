CREATE TYPE "public"."reprocess_state" AS ENUM('requested', 'purging');--> statement-breakpoint
ALTER TABLE "renditions" ADD COLUMN "reprocess" "reprocess_state";--> statement-breakpoint
CREATE INDEX "renditions_reprocess_idx" ON "renditions" USING btree ("updated_at") WHERE "renditions"."reprocess" is not null;