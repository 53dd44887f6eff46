// The API's shapes this section reads (generated from the OpenAPI document).
import type { components } from '@cairn/sdk';

type S = components['schemas'];
export type AuditEntry = S['AuditEntry'];
export type AuditList = S['AuditList'];
export type AuditVerification = S['AuditVerification'];
export type Job = S['Job'];
export type JobList = S['JobList'];
export type JobCounts = S['JobCounts'];
export type JobState = Job['state'];
export type Tenant = S['Tenant'];
export type TenantUpdate = S['TenantUpdate'];
export type InsightSettings = S['InsightSettingsAnswer'];
export type SystemStatus = S['SystemStatus'];
export type Member = S['Member'];

export const JOB_STATES: JobState[] = ['queued', 'running', 'done', 'dead'];

/** Query keys: every one starts with the section's id. */
export const KEYS = {
  audit: ['operations', 'audit'],
  verify: ['operations', 'audit-verify'],
  members: ['operations', 'members'],
  jobs: ['operations', 'jobs'],
  tenant: ['operations', 'tenant'],
  insightSettings: ['operations', 'insight-settings'],
  status: ['operations', 'status'],
  readyz: ['operations', 'readyz'],
} as const;
