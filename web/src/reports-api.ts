import type { client } from "./session";

/** A report as the review queue shows it (the SDK's reviewed report). */
export type ReportView = Awaited<ReturnType<typeof client.reports.list>>["reports"][number];
export type ReportState = ReportView["state"];
