/** Every endpoint form issue 22 found accepted as a webhook URL and a push endpoint. */
export const ISSUE_22_FORMS = [
  "https://[::169.254.169.254]/",
  "https://[::a00:1]/",
  "https://[64:ff9b::a9fe:a9fe]/",
  "https://[64:ff9b::10.0.0.1]/",
  "https://[2002:a9fe:a9fe::]/",
  "https://[fec0::1]/",
  "https://[ff02::1]/",
];

/** The same holes and their neighbours in other spellings: IPv4 shorthand for
 * internal ranges, transition forms, names. */
export const MORE_INTERNAL_FORMS = [
  "https://0xa9fea9fe/latest/meta-data",
  "https://169.254.169.254/latest/meta-data",
  "https://[fd00:ec2::254]/",
  "https://[::ffff:169.254.169.254]/",
  "https://[::ffff:0:a00:1]/",
  "https://[64:ff9b:1::a00:1]/",
  "https://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/",
  "https://[fe80::1]/",
  "https://[fd12::1]/",
  "https://100.64.0.1/",
  "https://metadata.google.internal/",
  "https://printer.local/",
  "https://intranet/",
];

/** This machine in shorthand: refused unless ALLOW_LOOPBACK_ENDPOINTS is on (it is in the test stack). */
export const LOOPBACK_FORMS = ["http://0x7f.1/", "http://2130706433/", "https://0177.0.0.1/", "https://localhost./"];
