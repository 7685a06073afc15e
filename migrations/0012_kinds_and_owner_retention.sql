ALTER TABLE "users" ADD COLUMN "kind" text DEFAULT 'user' NOT NULL;--> statement-breakpoint
ALTER TABLE "room_retention" ADD COLUMN "max_days" integer;--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_kind_check" CHECK ("users"."kind" in ('user', 'bot', 'service'));--> statement-breakpoint
ALTER TABLE "room_retention" ADD CONSTRAINT "room_retention_max_days_check" CHECK ("room_retention"."max_days" is null or "room_retention"."days" <= "room_retention"."max_days");--> statement-breakpoint
-- Bots and service identities made before users.kind existed.
UPDATE "users" SET "kind" = "bot_accounts"."kind" FROM "bot_accounts" WHERE "bot_accounts"."user_id" = "users"."id";--> statement-breakpoint
-- Every room lifetime so far was an admin's: it binds the room's owner.
UPDATE "room_retention" SET "max_days" = "days";
