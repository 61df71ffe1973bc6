/**
 * Discovery documents: the CapabilityStatement (`metadata`) and
 * `.well-known/smart-configuration`.
 *
 * @module
 */

import type { Config } from "./config.ts";
import { searchParamsFor } from "./search_params.ts";
import { ALGORITHMS } from "./token_endpoint.ts";

const EXPORT_DEFINITION = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export";
const OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris";

/** Where the server lives, for URLs inside the documents. */
export interface Endpoints {
  baseUrl: string;
  tokenUrl: string;
}

/** The CapabilityStatement for the configured server. */
export function capabilityStatement(
  config: Config,
  endpoints: Endpoints,
  supportedTypes: string[],
): Record<string, unknown> {
  const { name, version, releaseDate } = config.software;
  const security: Record<string, unknown> = {
    service: [{
      coding: [{
        system: "http://terminology.hl7.org/CodeSystem/restful-security-service",
        code: "SMART-on-FHIR",
      }],
    }],
  };
  if (config.capabilityOauthUris) {
    security.extension = [{
      url: OAUTH_URIS,
      extension: [{ url: "token", valueUri: endpoints.tokenUrl }],
    }];
  }
  const exportOperation = { name: "export", definition: EXPORT_DEFINITION };
  return {
    resourceType: "CapabilityStatement",
    id: "fake-fhir-server",
    status: "active",
    date: releaseDate ?? "2026-01-01",
    kind: "instance",
    ...(config.publisher !== undefined ? { publisher: config.publisher } : {}),
    software: {
      name,
      ...(version !== undefined ? { version } : {}),
      ...(releaseDate !== undefined ? { releaseDate } : {}),
    },
    implementation: { description: "Fake FHIR server for tests", url: endpoints.baseUrl },
    fhirVersion: config.fhirVersion,
    format: ["json", "application/fhir+json"],
    instantiates: ["http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"],
    rest: [{
      mode: "server",
      security,
      resource: supportedTypes.map((type) => ({
        type,
        interaction: [{ code: "read" }, { code: "search-type" }],
        searchParam: type === "Binary" ? [] : searchParamsFor(type, {
          lastUpdated: config.lastUpdatedSearchParam,
        }),
        ...(type === "Patient" || type === "Group" ? { operation: [exportOperation] } : {}),
      })),
      operation: [exportOperation],
    }],
  };
}

/** The SMART configuration document. */
export function smartConfiguration(
  config: Config,
  endpoints: Endpoints,
): Record<string, unknown> {
  return {
    token_endpoint: endpoints.tokenUrl,
    grant_types_supported: ["client_credentials"],
    token_endpoint_auth_methods_supported: ["private_key_jwt"],
    token_endpoint_auth_signing_alg_values_supported: ALGORITHMS,
    scopes_supported: [
      ...(config.scopeVersions.includes("v1") ? ["system/*.read"] : []),
      ...(config.scopeVersions.includes("v2") ? ["system/*.rs"] : []),
    ],
    capabilities: [
      "client-confidential-asymmetric",
      ...config.scopeVersions.map((v) => `permission-${v}`),
    ],
  };
}
