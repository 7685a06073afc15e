/** The words of notifications live in src/lib so the inbox objects render them with the same rule. */
export { notificationText, previewOf, sendersPhrase, type TextInput } from "../../lib/notification-text";
