CREATE TABLE "account_deletions" (
	"user_id" uuid PRIMARY KEY NOT NULL,
	"requested_by" uuid,
	"policy" text NOT NULL,
	"state" text DEFAULT 'running' NOT NULL,
	"error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"completed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "api_keys" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"prefix" text NOT NULL,
	"key_hash" text NOT NULL,
	"principal_id" uuid NOT NULL,
	"scopes" text[] NOT NULL,
	"room_ids" uuid[],
	"created_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_used_at" timestamp with time zone,
	"expires_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "api_keys_key_hash_unique" UNIQUE("key_hash")
);
--> statement-breakpoint
CREATE TABLE "bot_accounts" (
	"user_id" uuid PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"description" text,
	"created_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "bot_accounts_kind_check" CHECK ("bot_accounts"."kind" in ('bot', 'service'))
);
--> statement-breakpoint
CREATE TABLE "data_exports" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid NOT NULL,
	"requested_by" uuid,
	"state" text DEFAULT 'pending' NOT NULL,
	"r2_key" text,
	"size" bigint,
	"error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"completed_at" timestamp with time zone,
	"expires_at" timestamp with time zone,
	CONSTRAINT "data_exports_state_check" CHECK ("data_exports"."state" in ('pending', 'ready', 'failed'))
);
--> statement-breakpoint
CREATE TABLE "integration_events" (
	"id" text PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"room_id" uuid,
	"version" bigint,
	"data" jsonb NOT NULL,
	"occurred_at" timestamp with time zone DEFAULT now() NOT NULL,
	"dispatched_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "push_devices" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid NOT NULL,
	"platform" text NOT NULL,
	"token" text NOT NULL,
	"apns_environment" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "push_devices_platform_check" CHECK ("push_devices"."platform" in ('fcm', 'apns'))
);
--> statement-breakpoint
CREATE TABLE "room_retention" (
	"room_id" uuid PRIMARY KEY NOT NULL,
	"days" integer NOT NULL,
	"updated_by" uuid,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "room_retention_days_check" CHECK ("room_retention"."days" > 0)
);
--> statement-breakpoint
CREATE TABLE "webhook_deliveries" (
	"endpoint_id" uuid NOT NULL,
	"event_id" text NOT NULL,
	"stream" text NOT NULL,
	"order_key" bigint NOT NULL,
	"state" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_status" integer,
	"last_error" text,
	"next_attempt_at" timestamp with time zone,
	"delivered_at" timestamp with time zone,
	"dead_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "webhook_deliveries_pk" PRIMARY KEY("endpoint_id","event_id"),
	CONSTRAINT "webhook_deliveries_state_check" CHECK ("webhook_deliveries"."state" in ('pending', 'delivered', 'dead'))
);
--> statement-breakpoint
CREATE TABLE "webhook_endpoints" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"url" text NOT NULL,
	"secret" text NOT NULL,
	"description" text,
	"event_types" text[] NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"failing_since" timestamp with time zone,
	"disabled_at" timestamp with time zone,
	"disabled_reason" text,
	"created_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "webhook_streams" (
	"endpoint_id" uuid NOT NULL,
	"stream" text NOT NULL,
	"lease_until" timestamp with time zone,
	CONSTRAINT "webhook_streams_pk" PRIMARY KEY("endpoint_id","stream")
);
--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_principal_id_users_id_fk" FOREIGN KEY ("principal_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "bot_accounts" ADD CONSTRAINT "bot_accounts_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "bot_accounts" ADD CONSTRAINT "bot_accounts_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "data_exports" ADD CONSTRAINT "data_exports_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "data_exports" ADD CONSTRAINT "data_exports_requested_by_users_id_fk" FOREIGN KEY ("requested_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "push_devices" ADD CONSTRAINT "push_devices_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "room_retention" ADD CONSTRAINT "room_retention_room_id_rooms_id_fk" FOREIGN KEY ("room_id") REFERENCES "public"."rooms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "room_retention" ADD CONSTRAINT "room_retention_updated_by_users_id_fk" FOREIGN KEY ("updated_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_endpoint_id_webhook_endpoints_id_fk" FOREIGN KEY ("endpoint_id") REFERENCES "public"."webhook_endpoints"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_event_id_integration_events_id_fk" FOREIGN KEY ("event_id") REFERENCES "public"."integration_events"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhook_endpoints" ADD CONSTRAINT "webhook_endpoints_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhook_streams" ADD CONSTRAINT "webhook_streams_endpoint_id_webhook_endpoints_id_fk" FOREIGN KEY ("endpoint_id") REFERENCES "public"."webhook_endpoints"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "api_keys_principal_idx" ON "api_keys" USING btree ("principal_id");--> statement-breakpoint
CREATE INDEX "data_exports_user_idx" ON "data_exports" USING btree ("user_id","created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "integration_events_undispatched_idx" ON "integration_events" USING btree ("created_at") WHERE "integration_events"."dispatched_at" is null;--> statement-breakpoint
CREATE INDEX "integration_events_created_idx" ON "integration_events" USING btree ("created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "push_devices_platform_token_key" ON "push_devices" USING btree ("platform","token");--> statement-breakpoint
CREATE INDEX "push_devices_user_idx" ON "push_devices" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "webhook_deliveries_stream_idx" ON "webhook_deliveries" USING btree ("endpoint_id","stream","state","order_key");--> statement-breakpoint
CREATE INDEX "webhook_deliveries_dead_idx" ON "webhook_deliveries" USING btree ("endpoint_id","dead_at" DESC NULLS LAST) WHERE "webhook_deliveries"."state" = 'dead';--> statement-breakpoint
-- Lifecycle events for product-event webhooks (issue 27), written in the same transaction as the change
-- itself (a transactional outbox), and only when an enabled endpoint asked for that type. Room changes
-- (messages, reactions, members, settings) come from room_changes instead; see src/worker/integrations.
CREATE FUNCTION "edgechat_integration_event"(event_type text, event_room uuid, event_data jsonb) RETURNS void AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM "webhook_endpoints" WHERE "enabled" AND event_type = ANY("event_types")) THEN
    INSERT INTO "integration_events" ("id", "type", "room_id", "data", "occurred_at")
    VALUES (gen_random_uuid()::text, event_type, event_room, event_data, now());
  END IF;
END $$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE FUNCTION "edgechat_rooms_events"() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM "edgechat_integration_event"('room.created', NEW."id", jsonb_build_object('room', jsonb_build_object(
      'id', NEW."id", 'kind', NEW."kind", 'name', NEW."name", 'topic', NEW."topic", 'isPublic', NEW."is_public",
      'createdBy', NEW."created_by", 'createdAt', NEW."created_at")));
  ELSE
    PERFORM "edgechat_integration_event"('room.deleted', OLD."id", jsonb_build_object('room', jsonb_build_object(
      'id', OLD."id", 'kind', OLD."kind", 'name', OLD."name")));
  END IF;
  RETURN NULL;
END $$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE TRIGGER "rooms_integration_events" AFTER INSERT OR DELETE ON "rooms"
  FOR EACH ROW EXECUTE FUNCTION "edgechat_rooms_events"();
--> statement-breakpoint
-- Deferred to commit, so a bot created in the same transaction is already marked as one.
CREATE FUNCTION "edgechat_user_created_event"() RETURNS trigger AS $$
BEGIN
  PERFORM "edgechat_integration_event"('user.created', NULL, jsonb_build_object('user', jsonb_build_object(
    'id', NEW."id", 'displayName', NEW."display_name",
    'kind', coalesce((SELECT "kind" FROM "bot_accounts" WHERE "user_id" = NEW."id"), 'user'),
    'createdAt', NEW."created_at")));
  RETURN NULL;
END $$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER "users_created_integration_event" AFTER INSERT ON "users"
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "edgechat_user_created_event"();
--> statement-breakpoint
CREATE FUNCTION "edgechat_user_banned_event"() RETURNS trigger AS $$
BEGIN
  PERFORM "edgechat_integration_event"('user.banned', NULL, jsonb_build_object('user', jsonb_build_object(
    'id', NEW."id", 'displayName', NEW."display_name"), 'reason', NEW."ban_reason", 'bannedAt', NEW."banned_at"));
  RETURN NULL;
END $$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE TRIGGER "users_banned_integration_event" AFTER UPDATE OF "banned_at" ON "users"
  FOR EACH ROW WHEN (OLD."banned_at" IS NULL AND NEW."banned_at" IS NOT NULL)
  EXECUTE FUNCTION "edgechat_user_banned_event"();
--> statement-breakpoint
CREATE FUNCTION "edgechat_report_created_event"() RETURNS trigger AS $$
BEGIN
  PERFORM "edgechat_integration_event"('report.created', NEW."room_id", jsonb_build_object('report', jsonb_build_object(
    'id', NEW."id", 'roomId', NEW."room_id", 'seq', NEW."seq", 'targetUserId', NEW."target_user_id",
    'reporterId', NEW."reporter_id", 'reason', NEW."reason", 'text', NEW."text", 'createdAt', NEW."created_at")));
  RETURN NULL;
END $$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE TRIGGER "reports_integration_event" AFTER INSERT ON "reports"
  FOR EACH ROW EXECUTE FUNCTION "edgechat_report_created_event"();
