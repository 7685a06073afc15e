ALTER TABLE "users" ADD COLUMN "kind" text DEFAULT 'user' NOT NULL;--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_kind_check" CHECK ("users"."kind" in ('user', 'bot', 'service'));--> statement-breakpoint
-- Bots and service identities made before this column existed.
UPDATE "users" SET "kind" = "bot_accounts"."kind" FROM "bot_accounts" WHERE "bot_accounts"."user_id" = "users"."id";
