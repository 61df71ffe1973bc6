/** What we read from a server's CapabilityStatement: vendor, types, search params, OAuth URLs. */

import { z } from "zod";
import { CREATED_SINCE_PARAMS } from "./type_filters.ts";

const CREATED_PARAM_NAMES = new Set(Object.values(CREATED_SINCE_PARAMS));

const capabilitySchema = z.looseObject({
  resourceType: z.literal("CapabilityStatement"),
  fhirVersion: z.string().optional(),
  publisher: z.string().optional(),
  software: z.looseObject({
    name: z.string().optional(),
    version: z.string().optional(),
    releaseDate: z.string().optional(),
  }).optional(),
  rest: z.array(z.looseObject({
    mode: z.string().optional(),
    security: z.looseObject({
      extension: z.array(z.looseObject({
        url: z.string().optional(),
        extension: z.array(z.looseObject({
          url: z.string().optional(),
          valueUri: z.string().optional(),
        })).optional(),
      })).optional(),
    }).optional(),
    resource: z.array(z.looseObject({
      type: z.string(),
      searchParam: z.array(z.looseObject({ name: z.string() })).optional(),
    })).optional(),
  })).optional(),
});

/** The vendor quirks we know about. */
export type ServerKind = "epic" | "oracle" | "other";

/** A parsed CapabilityStatement (or an empty one when the server did not give one). */
export class Capabilities {
  /** `software.name`, `software.version`, `software.releaseDate`, `fhirVersion`. */
  readonly softwareName: string | null;
  readonly softwareVersion: string | null;
  readonly softwareReleaseDate: string | null;
  readonly fhirVersion: string | null;
  /** Which vendor quirks apply. */
  readonly kind: ServerKind;
  /** Resource types the server lists, or null when it lists none (then assume all). */
  readonly types: ReadonlySet<string> | null;
  /** The token endpoint from the `oauth-uris` extension, if any. */
  readonly tokenUrl: string | null;
  readonly #params: Map<string, Set<string>>;
  readonly #publisher: string;

  constructor(raw: unknown) {
    const parsed = capabilitySchema.safeParse(raw);
    const cs = parsed.success ? parsed.data : undefined;
    this.softwareName = cs?.software?.name ?? null;
    this.softwareVersion = cs?.software?.version ?? null;
    this.softwareReleaseDate = cs?.software?.releaseDate ?? null;
    this.fhirVersion = cs?.fhirVersion ?? null;
    const publisher = cs?.publisher ?? "";
    this.#publisher = publisher;
    this.kind = this.softwareName === "Epic"
      ? "epic"
      : ["Cerner", "Oracle Health"].includes(publisher)
      ? "oracle"
      : "other";
    const server = cs?.rest?.find((r) => r.mode === "server") ?? cs?.rest?.[0];
    this.#params = new Map();
    for (const res of server?.resource ?? []) {
      this.#params.set(res.type, new Set((res.searchParam ?? []).map((p) => p.name)));
    }
    this.types = this.#params.size ? new Set(this.#params.keys()) : null;
    let token: string | null = null;
    for (const ext of server?.security?.extension ?? []) {
      if (!ext.url?.endsWith("oauth-uris")) continue;
      for (const inner of ext.extension ?? []) {
        if (inner.url === "token" && inner.valueUri) token = inner.valueUri;
      }
    }
    this.tokenUrl = token;
  }

  /** True unless the server lists types and this one is not among them. */
  supportsType(type: string): boolean {
    return this.types === null || this.types.has(type);
  }

  /**
   * A small CapabilityStatement with only what we read (vendor, versions, types and their
   * search parameters, token URL), to remember a server between runs without its full
   * statement (Epic's runs to megabytes).
   */
  summary(): Record<string, unknown> {
    return {
      resourceType: "CapabilityStatement",
      ...(this.fhirVersion ? { fhirVersion: this.fhirVersion } : {}),
      ...(this.#publisher ? { publisher: this.#publisher } : {}),
      software: {
        ...(this.softwareName ? { name: this.softwareName } : {}),
        ...(this.softwareVersion ? { version: this.softwareVersion } : {}),
        ...(this.softwareReleaseDate ? { releaseDate: this.softwareReleaseDate } : {}),
      },
      rest: [{
        mode: "server",
        ...(this.tokenUrl
          ? {
            security: {
              extension: [{
                url: "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                extension: [{ url: "token", valueUri: this.tokenUrl }],
              }],
            },
          }
          : {}),
        resource: [...this.#params].map(([type, params]) => ({
          type,
          searchParam: [...params].filter((p) => p === "_lastUpdated" || CREATED_PARAM_NAMES.has(p))
            .map((name) => ({ name })),
        })),
      }],
    };
  }

  /** True when the server declares this search parameter for this type. */
  hasSearchParam(type: string, param: string): boolean {
    return this.#params.get(type)?.has(param) ?? false;
  }
}
