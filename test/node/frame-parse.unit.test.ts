import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { commandRef, frameError, MAX_FRAME_BYTES, parseFrame, replyFor } from "../../src/durable-objects/frame-parse";

/** Unit: the room's frame parsing and answers, pure functions, in plain Node. */
describe("parseFrame (unit)", () => {
  it("accepts a valid send and refuses what is not JSON, binary, or unknown", () => {
    expect(parseFrame('{"type":"send","clientMsgId":"a","body":"hi"}')).toEqual({
      kind: "frame",
      frame: { type: "send", clientMsgId: "a", body: "hi" },
    });
    expect(parseFrame("{nope")).toMatchObject({ kind: "refused", reply: { code: "bad_frame" } });
    expect(parseFrame(new ArrayBuffer(2))).toMatchObject({ kind: "refused", reply: { code: "bad_frame" } });
    expect(parseFrame('{"type":"dance"}')).toMatchObject({
      kind: "refused",
      reply: { code: "unknown_frame_type", message: 'unknown frame type: "dance"' },
    });
  });

  it("closes with 1009 past the size limit, counted in UTF-8 bytes", () => {
    const emoji = "😀".repeat(MAX_FRAME_BYTES / 4 + 1); // under the limit in UTF-16 units, over it in bytes
    expect(emoji.length).toBeLessThan(MAX_FRAME_BYTES);
    expect(parseFrame(JSON.stringify({ type: "typing", on: true, pad: emoji }))).toEqual({
      kind: "close",
      code: 1009,
      reason: "frame too large",
    });
  });

  it("never throws, whatever JSON arrives (hostile toString and valueOf included)", () => {
    for (const hostile of ['{"type":{"toString":1}}', '{"type":{"toString":null,"valueOf":null}}']) {
      expect(parseFrame(hostile)).toMatchObject({ kind: "refused", reply: { code: "unknown_frame_type" } });
    }
    fc.assert(
      fc.property(fc.jsonValue(), fc.string(), (value, type) => {
        for (const text of [JSON.stringify(value), JSON.stringify({ type, value }), JSON.stringify({ type: value })]) {
          if (text === undefined) continue;
          const parsed = parseFrame(text);
          expect(["frame", "refused", "close"]).toContain(parsed.kind);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("reads a refused frame's fields by type only", () => {
    const issues = [{ path: [Symbol("s"), "body"], message: "bad" }];
    expect(frameError({ type: "send", clientMsgId: "m1" }, issues)).toEqual({
      type: "error",
      code: "bad_frame",
      message: "?.body: bad",
      ref: "m1",
    });
    expect(frameError(Object.create(null), [])).toMatchObject({ code: "unknown_frame_type" });
  });
});

describe("replyFor (unit)", () => {
  const send = { type: "send" as const, clientMsgId: "c1", body: "x" };
  it("acks, throttles or refuses a send under its clientMsgId; other commands under verb:seq", () => {
    expect(replyFor(send, { status: "duplicate", seq: 4, message: null })).toEqual({
      type: "ack",
      clientMsgId: "c1",
      seq: 4,
      duplicate: true,
    });
    expect(replyFor(send, { status: "throttled", retryAfterMs: 9 })).toEqual({
      type: "throttled",
      retryAfterMs: 9,
      clientMsgId: "c1",
    });
    expect(commandRef({ type: "react", seq: 3, emoji: "👍", on: true })).toBe("react:3");
    expect(replyFor({ type: "edit", seq: 2, body: "y" }, { status: "ok" })).toBeNull();
    expect(replyFor({ type: "delete", seq: 2 }, { status: "rejected", code: "forbidden", message: "no" })).toEqual({
      type: "error",
      code: "forbidden",
      message: "no",
      ref: "delete:2",
    });
  });
});

describe("reserved ids", () => {
  it("refuses a clientMsgId in the room's own system: namespace", () => {
    const parsed = parseFrame('{"type":"send","clientMsgId":"system:7","body":"hi"}');
    expect(parsed).toMatchObject({ kind: "refused", reply: { code: "bad_frame", ref: "system:7" } });
    expect(parseFrame('{"type":"send","clientMsgId":"my:system:7","body":"hi"}')).toMatchObject({ kind: "frame" });
  });
});

describe("custom data", () => {
  it("refuses data nested too deeply with an error frame instead of overflowing the stack", () => {
    const deep = `${"[".repeat(8000)}1${"]".repeat(8000)}`;
    const frame = `{"type":"send","clientMsgId":"c1","body":"hi","custom":{"deep":${deep}}}`;
    expect(parseFrame(frame)).toMatchObject({ kind: "refused", reply: { code: "bad_frame" } });
    expect(parseFrame('{"type":"send","clientMsgId":"c2","body":"hi","custom":{"a":{"b":[1,2]}}}')).toMatchObject({
      kind: "frame",
    });
  });
});
