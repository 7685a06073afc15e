CREATE TABLE "room_changes" (
	"room_id" uuid NOT NULL,
	"version" bigint NOT NULL,
	"kind" text NOT NULL,
	"seq" bigint,
	"frame" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "room_changes_pk" PRIMARY KEY("room_id","version"),
	CONSTRAINT "room_changes_version_positive" CHECK ("room_changes"."version" > 0)
);
--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "kind" text DEFAULT 'regular' NOT NULL;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "system" jsonb;--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "custom" jsonb;--> statement-breakpoint
ALTER TABLE "rooms" ADD COLUMN "version" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "rooms" ADD COLUMN "custom" jsonb;--> statement-breakpoint
ALTER TABLE "room_changes" ADD CONSTRAINT "room_changes_room_id_rooms_id_fk" FOREIGN KEY ("room_id") REFERENCES "public"."rooms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "room_changes_room_seq_idx" ON "room_changes" USING btree ("room_id","seq");