/** Mention detection lives in src/lib so the rooms can count mentions for inboxes with the same rule. */
export { mentions } from "../../lib/mentions";
