CREATE INDEX "messages_body_fts" ON "messages" USING gin (to_tsvector('simple', "body"));--> statement-breakpoint
CREATE INDEX "messages_reply_to_idx" ON "messages" USING btree ("room_id","reply_to");