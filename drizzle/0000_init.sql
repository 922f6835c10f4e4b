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
ALTER TABLE "renditions" ADD CONSTRAINT "renditions_asset_sha256_assets_sha256_fk" FOREIGN KEY ("asset_sha256") REFERENCES "public"."assets"("sha256") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "images" ADD CONSTRAINT "images_asset_sha256_assets_sha256_fk" FOREIGN KEY ("asset_sha256") REFERENCES "public"."assets"("sha256") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "assets_unsettled_idx" ON "assets" USING btree ("created_at") WHERE "assets"."settled_at" is null;--> statement-breakpoint
CREATE INDEX "images_asset_idx" ON "images" USING btree ("asset_sha256");