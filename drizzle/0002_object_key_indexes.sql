CREATE INDEX "assets_original_key_idx" ON "assets" USING btree ("original_key");--> statement-breakpoint
CREATE INDEX "assets_stripped_key_idx" ON "assets" USING btree ("stripped_key");--> statement-breakpoint
CREATE INDEX "renditions_storage_key_idx" ON "renditions" USING btree ("storage_key");