/**
 * The SSRF filter as plain logic: IP literal parsing, address classes, host names, and the URL rule that
 * the routes (save time) and delivery (send time) both apply. Runs in workerd so `new URL` normalises
 * hosts exactly as production does.
 */
import { describe, expect, it } from "vitest";
import { classifyIpv4, classifyIpv6, endpointProblem, judgeHost } from "../../src/lib/endpoint-policy";
import { formatIpv4, parseIpv4, parseIpv6 } from "../../src/lib/ip-address";
import { ISSUE_22_FORMS } from "../helpers/ssrf";

const v6 = (text: string) => {
  const parsed = parseIpv6(text);
  if (!parsed) throw new Error(`not IPv6: ${text}`);
  return parsed;
};
const kind6 = (text: string) => classifyIpv6(v6(text).value, v6(text).zone).kind;
const kind4 = (text: string) => classifyIpv4(parseIpv4(text) as number).kind;

describe("IPv4 literals", () => {
  it("reads every inet_aton form to the same address", () => {
    for (const text of [
      "127.0.0.1",
      "127.1",
      "127.0.1",
      "0x7f.1",
      "0x7F.0.0.1",
      "0177.0.0.1",
      "0177.1",
      "2130706433",
      "0x7f000001",
      "017700000001",
      "127.0.0.1.",
    ]) {
      expect(parseIpv4(text), text).toBe(0x7f000001);
    }
    expect(formatIpv4(parseIpv4("0xa9.0376.43518") as number)).toBe("169.254.169.254");
    expect(formatIpv4(parseIpv4("2852039166") as number)).toBe("169.254.169.254");
  });

  it("refuses what is not an IPv4 literal", () => {
    for (const text of ["", ".", "1..2", "1.2.3.4.5", "256.0.0.1", "1.2.3.256", "1.16777216", "4294967296", "08.1"]) {
      expect(parseIpv4(text), text).toBeNull();
    }
    for (const text of ["example.com", "1.2.3.4x", "0x1g", "-1", "1.2.3.-4", "1e3"]) {
      expect(parseIpv4(text), text).toBeNull();
    }
  });
});

describe("IPv6 literals", () => {
  it("reads compressed, full, bracketed, dotted-quad and zoned forms", () => {
    expect(v6("::1").value).toBe(1n);
    expect(v6("[::1]").value).toBe(1n);
    expect(v6("0:0:0:0:0:0:0:1").value).toBe(1n);
    expect(v6("::").value).toBe(0n);
    expect(v6("::ffff:10.0.0.1").value).toBe(v6("::ffff:a00:1").value);
    expect(v6("0:0:0:0:0:ffff:10.0.0.1").value).toBe(v6("::ffff:a00:1").value);
    expect(v6("::169.254.169.254").value).toBe(v6("::a9fe:a9fe").value);
    expect(v6("FE80::1").value).toBe(v6("fe80::1").value);
    expect(v6("fe80::1%eth0")).toEqual({ value: v6("fe80::1").value, zone: "eth0" });
    expect(v6("[fe80::1%25eth0]").zone).toBe("eth0");
    expect(v6("1:2:3:4:5:6:7::").value).toBe(v6("1:2:3:4:5:6:7:0").value);
  });

  it("refuses malformed text", () => {
    for (const text of [
      "",
      ":",
      ":::",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7",
      "12345::",
      "g::1",
      "::1.2.3",
      "::1.2.3.256",
      "1.2.3.4::",
      "::0x7f.1",
      "fe80::1%",
      "example.com",
    ]) {
      expect(parseIpv6(text), text).toBeNull();
    }
  });
});

describe("address classes", () => {
  it("sorts IPv4 into the special-purpose ranges", () => {
    const cases: [string, string][] = [
      ["0.0.0.0", "unspecified"],
      ["0.1.2.3", "unspecified"],
      ["10.255.0.1", "private"],
      ["100.64.0.1", "shared"],
      ["100.127.255.255", "shared"],
      ["127.8.8.8", "loopback"],
      ["169.254.169.254", "metadata"],
      ["169.254.1.1", "link-local"],
      ["172.16.0.1", "private"],
      ["172.31.255.255", "private"],
      ["192.0.0.192", "reserved"],
      ["192.0.2.7", "documentation"],
      ["192.88.99.1", "reserved"],
      ["192.168.0.1", "private"],
      ["198.18.0.1", "benchmark"],
      ["198.19.255.255", "benchmark"],
      ["198.51.100.1", "documentation"],
      ["203.0.113.1", "documentation"],
      ["224.0.0.1", "multicast"],
      ["239.255.255.250", "multicast"],
      ["240.0.0.1", "reserved"],
      ["255.255.255.255", "broadcast"],
      ["168.63.129.16", "metadata"],
      // Just outside each range.
      ["100.63.255.255", "public"],
      ["100.128.0.0", "public"],
      ["172.15.255.255", "public"],
      ["172.32.0.0", "public"],
      ["198.17.255.255", "public"],
      ["198.20.0.0", "public"],
      ["1.1.1.1", "public"],
      ["8.8.8.8", "public"],
      ["223.255.255.255", "public"],
    ];
    for (const [text, kind] of cases) expect(kind4(text), text).toBe(kind);
  });

  it("sorts IPv6 into the special-purpose ranges", () => {
    const cases: [string, string][] = [
      ["::", "unspecified"],
      ["::1", "loopback"],
      ["::ffff:8.8.8.8", "ipv4-mapped"],
      ["::ffff:127.0.0.1", "ipv4-mapped"],
      ["::ffff:0:10.0.0.1", "ipv4-translated"],
      ["::169.254.169.254", "ipv4-compatible"],
      ["::a00:1", "ipv4-compatible"],
      ["::2", "ipv4-compatible"],
      ["64:ff9b::a9fe:a9fe", "nat64"],
      ["64:ff9b::10.0.0.1", "nat64"],
      ["64:ff9b:1::a00:1", "nat64"],
      ["100::1", "reserved"],
      ["2001:0:4136:e378:8000:63bf:3fff:fdd2", "teredo"],
      ["2001:2::1", "benchmark"],
      ["2001:db8::1", "documentation"],
      ["2001:10::1", "reserved"],
      ["2001:1ff::1", "reserved"],
      ["2002:a9fe:a9fe::", "6to4"],
      ["2002:808:808::1", "6to4"],
      ["3fff::1", "documentation"],
      ["fd00:ec2::254", "metadata"],
      ["fc00::1", "unique-local"],
      ["fd12:3456::1", "unique-local"],
      ["fe80::1", "link-local"],
      ["febf::1", "link-local"],
      ["fec0::1", "site-local"],
      ["feff::1", "site-local"],
      ["ff02::1", "multicast"],
      ["ff05::1:3", "multicast"],
      ["5f00::1", "reserved"],
      ["4000::1", "reserved"],
      ["e000::1", "reserved"],
      ["2606:4700:4700::1111", "public"],
      ["2001:200::1", "public"],
      ["2a00:1450:4001::200e", "public"],
    ];
    for (const [text, kind] of cases) expect(kind6(text), text).toBe(kind);
    expect(classifyIpv6(v6("fe80::1").value, "eth0").kind).toBe("zoned");
    expect(classifyIpv6(v6("2606:4700::1").value, "0").kind).toBe("zoned");
  });

  it("names the IPv4 address a transition form carries (Teredo's client inverted)", () => {
    const embedded = (text: string) => classifyIpv6(v6(text).value).embedded;
    expect(embedded("::ffff:10.0.0.1")).toBe("10.0.0.1");
    expect(embedded("::169.254.169.254")).toBe("169.254.169.254");
    expect(embedded("64:ff9b::10.0.0.1")).toBe("10.0.0.1");
    expect(embedded("2002:a9fe:a9fe::")).toBe("169.254.169.254");
    expect(embedded("2002:c0a8:0101:1::1")).toBe("192.168.1.1");
    // 0x3fff_fdd2 inverted is 0xc000_022d: 192.0.2.45, RFC 4380's own example.
    expect(embedded("2001:0:4136:e378:8000:63bf:3fff:fdd2")).toBe("192.0.2.45");
    // A Teredo client at 10.0.0.1 (0x0a000001): its last 32 bits are 0xf5fffffe.
    expect(embedded("2001:0:4136:e378:8000:63bf:f5ff:fffe")).toBe("10.0.0.1");
  });
});

describe("host names", () => {
  it("treats localhost names as loopback and internal names as refused", () => {
    for (const host of ["localhost", "LOCALHOST", "localhost.", "a.localhost", "x.y.localhost"]) {
      expect(judgeHost(host).kind, host).toBe("loopback");
    }
    for (const host of [
      "printer.local",
      "metadata.google.internal",
      "db.internal.",
      "box.localdomain",
      "nas.home.arpa",
      "intranet",
      "metadata",
      "git.corp",
      "router.lan",
      "",
    ]) {
      expect(judgeHost(host).kind, host).toBe("refused");
    }
    for (const host of ["push.example.com", "fcm.googleapis.com", "local.example.com", "internal.example.org"]) {
      expect(judgeHost(host).kind, host).toBe("public");
    }
  });

  it("reads raw IP hosts in every form", () => {
    for (const host of ["0x7f.1", "2130706433", "127.1", "[::1]", "::1"]) {
      expect(judgeHost(host).kind, host).toBe("loopback");
    }
    for (const host of ["0xa9fea9fe", "0251.0376.0251.0376", "[::ffff:7f00:1]", "[fe80::1%25eth0]", "[not:v6]"]) {
      expect(judgeHost(host).kind, host).toBe("refused");
    }
  });
});

describe("endpoint URLs", () => {
  it("allows https to public hosts and http only to loopback when enabled", () => {
    expect(endpointProblem("https://hooks.example.com/x", false)).toBeNull();
    expect(endpointProblem("https://93.184.215.14/x", false)).toBeNull();
    expect(endpointProblem("https://[2606:4700::1111]/x", false)).toBeNull();
    expect(endpointProblem("http://hooks.example.com/x", true)).toBe("must be https");
    expect(endpointProblem("http://127.0.0.1:9/x", false)).toBe("must not point at this machine");
    expect(endpointProblem("http://127.0.0.1:9/x", true)).toBeNull();
    expect(endpointProblem("http://localhost:9/x", true)).toBeNull();
    expect(endpointProblem("http://[::1]:9/x", true)).toBeNull();
    expect(endpointProblem("https://user:pw@example.com/", false)).toBe("must not carry credentials");
    expect(endpointProblem("https://example.com@10.0.0.1/", false)).toBe("must not carry credentials");
    expect(endpointProblem("ftp://example.com/", true)).toBe("must be https");
    expect(endpointProblem("not a url", true)).toBe("is not a URL");
  });

  it("refuses every form issue 22 found accepted, with or without the loopback escape hatch", () => {
    for (const url of ISSUE_22_FORMS) {
      for (const allow of [false, true]) {
        expect(endpointProblem(url, allow), `${url} ${allow}`).toMatch(/^must not point at /);
      }
    }
  });

  it("refuses loopback in every spelling unless allowed, and mapped loopback always", () => {
    for (const url of [
      "https://127.0.0.1/x",
      "https://0x7f.1/x",
      "http://0x7f.1/",
      "http://2130706433/",
      "https://0177.0.0.1/",
      "https://127.1/",
      "https://localhost/x",
      "https://LocalHost./x",
      "https://api.localhost/x",
      "https://[::1]/x",
      "https://[0:0:0:0:0:0:0:1]/x",
    ]) {
      expect(endpointProblem(url, false), url).toBe("must not point at this machine");
      expect(endpointProblem(url, true), url).toBeNull();
    }
    for (const url of ["https://[::ffff:127.0.0.1]/", "https://[::127.0.0.1]/", "https://[64:ff9b::127.0.0.1]/"]) {
      expect(endpointProblem(url, true), url).toMatch(/^must not point at /);
    }
  });

  it("refuses private, shared, link-local, metadata and reserved targets in any spelling", () => {
    for (const url of [
      "https://10.1.2.3/x",
      "https://012.1.2.3/x",
      "https://167772161/x",
      "https://172.16.0.1/x",
      "https://192.168.1.1/x",
      "https://0xc0.0xa8.1.1/x",
      "https://169.254.169.254/latest/meta-data",
      "https://169.254.43518/",
      "https://0xa9fea9fe/",
      "https://100.64.0.1/x",
      "https://0.0.0.0/x",
      "https://0/x",
      "https://255.255.255.255/",
      "https://224.0.0.1/",
      "https://198.18.0.1/",
      "https://192.0.2.1/",
      "https://[fd00::1]/x",
      "https://[fd00:ec2::254]/latest/meta-data",
      "https://[fe80::1]/x",
      "https://[::ffff:10.0.0.1]/x",
      "https://[::ffff:a9fe:a9fe]/x",
      "https://[::ffff:0:a9fe:a9fe]/x",
      "https://[::]/x",
      "https://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/",
      "https://[2001:db8::1]/",
      "https://[64:ff9b:1::a00:1]/",
      "https://[100::1]/",
      "https://metadata.google.internal/computeMetadata/v1/",
      "https://printer.local/",
      "https://intranet/",
    ]) {
      for (const allow of [false, true]) {
        expect(endpointProblem(url, allow), `${url} ${allow}`).toMatch(/^must not point at /);
      }
    }
  });

  it("says what the address is", () => {
    expect(endpointProblem("https://[::169.254.169.254]/", false)).toBe(
      "must not point at an IPv4-compatible address (::/96) carrying 169.254.169.254",
    );
    expect(endpointProblem("https://[2002:a9fe:a9fe::]/", false)).toBe(
      "must not point at a 6to4 address (2002::/16) carrying 169.254.169.254",
    );
    expect(endpointProblem("https://10.0.0.1/", false)).toBe("must not point at a private network (10.0.0.0/8)");
  });
});
