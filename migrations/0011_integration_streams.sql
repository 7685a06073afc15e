CREATE TABLE "room_event_cursors" (
	"room_id" uuid PRIMARY KEY NOT NULL,
	"through" bigint NOT NULL,
	"lease_until" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "webhook_streams" ADD COLUMN "wake_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "room_event_cursors" ADD CONSTRAINT "room_event_cursors_room_id_rooms_id_fk" FOREIGN KEY ("room_id") REFERENCES "public"."rooms"("id") ON DELETE cascade ON UPDATE no action;