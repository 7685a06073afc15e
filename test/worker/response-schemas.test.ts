/**
 * One set of response schemas (src/protocol/responses) types the SDK, is what /openapi.json shows, and
 * describes what the handlers answer. NotificationView's roomKind is the field the hand-kept copies lost.
 */
import { describe, expect, expectTypeOf, it } from "vitest";
import { z } from "zod";
import type { NotificationView, RoomListItem, MessageView as SdkMessageView } from "../../src/client";
import { notifications } from "../../src/db/notification-schema";
import { messages, roomMembers } from "../../src/db/schema";
import type { MessageView as FrameMessageView } from "../../src/protocol/frames";
import { historyPage, type MessageState, messageState } from "../../src/protocol/responses/messages";
import { notificationsReply, notificationView } from "../../src/protocol/responses/notifications";
import { roomDetail, roomDetailReply, roomListItem, roomListReply } from "../../src/protocol/responses/rooms";
import { createRoom, createUser, db } from "../helpers/fixtures";
import { api } from "../helpers/http";

type Schema = { properties: Record<string, Schema>; items: Schema; required: string[] };

function served(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _drop, ...json } = z.toJSONSchema(schema, { io: "output", unrepresentable: "any" });
  return json;
}

async function withNotification() {
  const me = await createUser("me");
  const other = await createUser("other");
  const room = await createRoom(other.id, [me.id]);
  await db()
    .insert(notifications)
    .values({
      userId: me.id,
      roomId: room.id,
      kind: "mention",
      firstSeq: 1,
      lastSeq: 1,
      senderIds: [other.id],
      preview: "hello",
      deliverAt: new Date(),
      deliveredAt: new Date(),
    });
  return me;
}

describe("response schemas", () => {
  it("type the SDK", () => {
    expectTypeOf<NotificationView>().toEqualTypeOf<z.infer<typeof notificationView>>();
    expectTypeOf<NotificationView["roomKind"]>().toEqualTypeOf<"group" | "direct">();
    expectTypeOf<RoomListItem>().toEqualTypeOf<z.infer<typeof roomListItem>>();
    // REST answers and the room's message frames carry the same message view.
    expectTypeOf<SdkMessageView>().toEqualTypeOf<FrameMessageView>();
    // A history page's message is a message view with its state added: code taking a view takes it too.
    expectTypeOf<MessageState>().toExtend<FrameMessageView>();
  });

  it("are what /openapi.json shows", async () => {
    const { json: doc } = await api("GET", "/openapi.json");
    const list = doc.paths["/api/notifications"].get.responses["200"].content["application/json"].schema as Schema;
    expect(list).toEqual(served(notificationsReply));
    expect(list.properties.notifications?.items.required).toContain("roomKind");
    const rooms = doc.paths["/api/rooms"].get.responses["200"].content["application/json"].schema;
    expect(rooms).toEqual(served(roomListReply));
    const page = doc.paths["/api/rooms/{id}/messages"].get.responses["200"].content["application/json"].schema;
    expect(page).toEqual(served(historyPage));
    const detail = doc.paths["/api/rooms/{id}"].get.responses["200"].content["application/json"].schema;
    expect(detail).toEqual(served(roomDetailReply));
  });

  it("describe what the handlers answer, field for field", async () => {
    const me = await withNotification();
    const { status, json } = await api("GET", "/api/notifications", me.token);
    expect(status).toBe(200);
    const parsed = notificationsReply.parse(json);
    expect(parsed.notifications[0]?.roomKind).toBe("group");
    // Nothing the schema leaves out (the stored row's userId, say) is sent either.
    expect(Object.keys(json.notifications[0]).sort()).toEqual(Object.keys(notificationView.shape).sort());

    const { json: list } = await api("GET", "/api/rooms", me.token);
    const [room] = roomListReply.parse(list).rooms;
    expect(room?.role).toBe("member");
    expect(Object.keys(list.rooms[0]).sort()).toEqual(Object.keys(roomListItem.shape).sort());

    const roomId = list.rooms[0].id as string;
    const { json: detail } = await api("GET", `/api/rooms/${roomId}`, me.token);
    expect(roomDetailReply.safeParse(detail).success).toBe(true);
    expect(Object.keys(detail.room).sort()).toEqual(Object.keys(roomDetail.shape).sort());

    const other = await createUser("sender");
    await db().insert(roomMembers).values({ roomId, userId: other.id });
    await db().insert(messages).values({ roomId, seq: 1, senderId: other.id, clientMsgId: "m1", body: "hi" });
    const { json: page } = await api("GET", `/api/rooms/${roomId}/messages`, me.token);
    expect(historyPage.safeParse(page).success).toBe(true);
    expect(Object.keys(page).sort()).toEqual(["messages", "nextBefore", "source", "version"]);
    // Every field of the state but those only some messages have (files, system events, custom data, hidden).
    const optional = ["attachments", "system", "custom", "hidden"];
    expect(Object.keys(page.messages[0]).sort()).toEqual(
      Object.keys(messageState.shape)
        .filter((k) => !optional.includes(k))
        .sort(),
    );
  });
});
