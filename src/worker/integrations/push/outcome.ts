/** What a push service said about one push, in the terms the delivery acts on. */
export type PushOutcome =
  | { kind: "sent"; status: number }
  /** The service says the device token will never work again: the device is removed. */
  | { kind: "invalid-token"; status: number; reason: string }
  /** Worth trying again later (5xx, 429, a timeout, our credentials needing renewal). */
  | { kind: "retry"; reason: string }
  /** Retrying cannot help (our request is wrong): dead-lettered with the reason. */
  | { kind: "permanent"; reason: string };

/** The text of a notification as a phone shows it, and what the app needs to open it. */
export interface MobilePush {
  notificationId: string;
  kind: string;
  roomId: string;
  lastSeq: number;
  title: string;
  body: string;
  /** Unread messages over all the user's rooms: the app icon's badge. */
  badge: number;
  urgent: boolean;
}

/** A push not delivered within a day is not worth delivering. */
export const PUSH_TTL_SECONDS = 24 * 60 * 60;
