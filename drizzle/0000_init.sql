CREATE TYPE "public"."asset_status" AS ENUM('processing', 'ready', 'failed', 'rejected');--> statement-breakpoint
CREATE TYPE "public"."moderation_verdict" AS ENUM('pending', 'allow', 'reject', 'review');--> statement-breakpoint
CREATE TYPE "public"."step_status" AS ENUM('pending', 'processing', 'ready', 'failed');--> statement-breakpoint
CREATE TABLE "assets" (
	"sha256" text PRIMARY KEY NOT NULL,
	"format" text NOT NULL,
	"mime" text NOT NULL,
	"ext" text NOT NULL,
	"width" integer NOT NULL,
	"height" integer NOT NULL,
	"orientation" integer NOT NULL,
	"pages" integer NOT NULL,
	"bytes" integer NOT NULL,
	"original_key" text NOT NULL,
	"stripped_key" text,
	"stripped_bytes" integer,
	"stripped_etag" text,
	"phash" bigint,
	"phash_q0" integer GENERATED ALWAYS AS (((phash >> 48) & 65535)::int) STORED,
	"phash_q1" integer GENERATED ALWAYS AS (((phash >> 32) & 65535)::int) STORED,
	"phash_q2" integer GENERATED ALWAYS AS (((phash >> 16) & 65535)::int) STORED,
	"phash_q3" integer GENERATED ALWAYS AS ((phash & 65535)::int) STORED,
	"metadata" jsonb,
	"status" "asset_status" DEFAULT 'processing' NOT NULL,
	"strip_status" "step_status" DEFAULT 'pending' NOT NULL,
	"phash_status" "step_status" DEFAULT 'pending' NOT NULL,
	"moderation_status" "step_status" DEFAULT 'pending' NOT NULL,
	"moderation_verdict" "moderation_verdict" DEFAULT 'pending' NOT NULL,
	"moderation_reason" text,
	"flow_enqueued_at" timestamp with time zone,
	"settled_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "renditions" (
	"asset_sha256" text NOT NULL,
	"size" text NOT NULL,
	"format" text NOT NULL,
	"width" integer NOT NULL,
	"height" integer NOT NULL,
	"status" "step_status" DEFAULT 'pending' NOT NULL,
	"storage_key" text,
	"bytes" integer,
	"etag" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "renditions_asset_sha256_size_format_pk" PRIMARY KEY("asset_sha256","size","format")
);
--> statement-breakpoint
CREATE TABLE "images" (
	"id" text PRIMARY KEY NOT NULL,
	"asset_sha256" text,
	"title" text,
	"callback_url" text,
	"delete_token_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "blocked_hashes" (
	"id" text PRIMARY KEY NOT NULL,
	"phash" bigint NOT NULL,
	"phash_q0" integer GENERATED ALWAYS AS (((phash >> 48) & 65535)::int) STORED,
	"phash_q1" integer GENERATED ALWAYS AS (((phash >> 32) & 65535)::int) STORED,
	"phash_q2" integer GENERATED ALWAYS AS (((phash >> 16) & 65535)::int) STORED,
	"phash_q3" integer GENERATED ALWAYS AS ((phash & 65535)::int) STORED,
	"source_image_id" text,
	"reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "webhook_deliveries" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"image_id" text NOT NULL,
	"event_id" text NOT NULL,
	"event_type" text NOT NULL,
	"url" text NOT NULL,
	"attempt" integer NOT NULL,
	"status_code" integer,
	"latency_ms" integer,
	"error" text,
	"succeeded" boolean NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "settings" (
	"key" text PRIMARY KEY NOT NULL,
	"value" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "renditions" ADD CONSTRAINT "renditions_asset_sha256_assets_sha256_fk" FOREIGN KEY ("asset_sha256") REFERENCES "public"."assets"("sha256") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "images" ADD CONSTRAINT "images_asset_sha256_assets_sha256_fk" FOREIGN KEY ("asset_sha256") REFERENCES "public"."assets"("sha256") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "assets_unsettled_idx" ON "assets" USING btree ("created_at") WHERE "assets"."settled_at" is null;--> statement-breakpoint
CREATE INDEX "assets_phash_q0_idx" ON "assets" USING btree ("phash_q0");--> statement-breakpoint
CREATE INDEX "assets_phash_q1_idx" ON "assets" USING btree ("phash_q1");--> statement-breakpoint
CREATE INDEX "assets_phash_q2_idx" ON "assets" USING btree ("phash_q2");--> statement-breakpoint
CREATE INDEX "assets_phash_q3_idx" ON "assets" USING btree ("phash_q3");--> statement-breakpoint
CREATE INDEX "images_asset_idx" ON "images" USING btree ("asset_sha256");--> statement-breakpoint
CREATE INDEX "blocked_hashes_q0_idx" ON "blocked_hashes" USING btree ("phash_q0");--> statement-breakpoint
CREATE INDEX "blocked_hashes_q1_idx" ON "blocked_hashes" USING btree ("phash_q1");--> statement-breakpoint
CREATE INDEX "blocked_hashes_q2_idx" ON "blocked_hashes" USING btree ("phash_q2");--> statement-breakpoint
CREATE INDEX "blocked_hashes_q3_idx" ON "blocked_hashes" USING btree ("phash_q3");--> statement-breakpoint
CREATE INDEX "webhook_deliveries_image_idx" ON "webhook_deliveries" USING btree ("image_id","created_at");