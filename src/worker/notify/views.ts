/** Notification views live in src/db so the inbox objects read them with the same query. */
export { idsOf, loadView, loadViews, type NotificationView, unreadFor } from "../../db/notification-views";
