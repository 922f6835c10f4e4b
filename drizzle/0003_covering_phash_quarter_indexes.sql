DROP INDEX "assets_phash_q0_idx";--> statement-breakpoint
DROP INDEX "assets_phash_q1_idx";--> statement-breakpoint
DROP INDEX "assets_phash_q2_idx";--> statement-breakpoint
DROP INDEX "assets_phash_q3_idx";--> statement-breakpoint
DROP INDEX "blocked_hashes_q0_idx";--> statement-breakpoint
DROP INDEX "blocked_hashes_q1_idx";--> statement-breakpoint
DROP INDEX "blocked_hashes_q2_idx";--> statement-breakpoint
DROP INDEX "blocked_hashes_q3_idx";--> statement-breakpoint
CREATE INDEX "assets_phash_q0_idx" ON "assets" USING btree ("phash_q0","phash","id");--> statement-breakpoint
CREATE INDEX "assets_phash_q1_idx" ON "assets" USING btree ("phash_q1","phash","id");--> statement-breakpoint
CREATE INDEX "assets_phash_q2_idx" ON "assets" USING btree ("phash_q2","phash","id");--> statement-breakpoint
CREATE INDEX "assets_phash_q3_idx" ON "assets" USING btree ("phash_q3","phash","id");--> statement-breakpoint
CREATE INDEX "blocked_hashes_q0_idx" ON "blocked_hashes" USING btree ("phash_q0","phash","id");--> statement-breakpoint
CREATE INDEX "blocked_hashes_q1_idx" ON "blocked_hashes" USING btree ("phash_q1","phash","id");--> statement-breakpoint
CREATE INDEX "blocked_hashes_q2_idx" ON "blocked_hashes" USING btree ("phash_q2","phash","id");--> statement-breakpoint
CREATE INDEX "blocked_hashes_q3_idx" ON "blocked_hashes" USING btree ("phash_q3","phash","id");