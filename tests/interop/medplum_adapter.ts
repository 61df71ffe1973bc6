/**
 * The one place Medplum's FHIR types meet ours: Medplum types every resource as a union of
 * generated interfaces, our generator makes plain JSON records. The casts stay here.
 *
 * @module
 */

import { badRequest, getStatus, normalizeOperationOutcome, notFound } from "@medplum/core";
import type { Resource as MedplumResource } from "@medplum/fhirtypes";
import type { FhirRequest, FhirRouter, MemoryRepository } from "@medplum/fhir-router";
import type { Resource } from "../fake_server/types.ts";

/** A JSON object as it goes on the wire. */
export type Json = Record<string, unknown>;

/** What the router answered: an HTTP status and the resource (or OperationOutcome) to send. */
export interface RouterAnswer {
  /** HTTP status derived from the OperationOutcome (Medplum's `getStatus`). */
  status: number;
  /** The resource, or the OperationOutcome when there is none. */
  body: Json;
}

/**
 * Stores a resource as it is, id and `meta.lastUpdated` included (call inside
 * `repo.withSeeding`, or Medplum replaces `lastUpdated` with the current time), and returns the
 * stored copy (Medplum adds `meta.versionId`).
 */
export async function storeResource(repo: MemoryRepository, resource: Resource): Promise<Resource> {
  const stored = await repo.createResource(resource as unknown as MedplumResource);
  return stored as unknown as Resource;
}

/** Runs a GET through Medplum's FHIR router; `url` is relative to the FHIR base (`Patient/x`). */
export async function routeGet(
  router: FhirRouter,
  repo: MemoryRepository,
  url: string,
): Promise<RouterAnswer> {
  const request: FhirRequest = {
    method: "GET",
    url,
    pathname: "",
    body: undefined,
    params: {},
    query: {},
  };
  const [outcome, resource] = await router.handleRequest(request, repo);
  return { status: getStatus(outcome), body: (resource ?? outcome) as unknown as Json };
}

/** An error thrown by Medplum code (an OperationOutcomeError, usually) as status and outcome. */
export function errorAnswer(err: unknown): RouterAnswer {
  const outcome = normalizeOperationOutcome(err);
  return { status: getStatus(outcome), body: outcome as unknown as Json };
}

/** A 400 with Medplum's own OperationOutcome for `text`. */
export function badRequestAnswer(text: string): RouterAnswer {
  return { status: 400, body: badRequest(text) as unknown as Json };
}

/** A 404 with Medplum's own "Not found" OperationOutcome. */
export function notFoundAnswer(): RouterAnswer {
  return { status: 404, body: notFound as unknown as Json };
}
