ALTER TABLE "assets" ADD COLUMN "thumbhash" text;--> statement-breakpoint
ALTER TABLE "images" ADD COLUMN "description" text;