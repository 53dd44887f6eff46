// The tenant's settings: name, MFA policy and self-registration (PATCH /api/v1/tenant), and
// the time zone of its reports (PUT /api/v1/insights/settings). Each form sends only what
// changed; the API's field errors land on their fields, anything else above the form.
import { useEffect, useMemo, useState } from 'react';
import { z } from 'zod';
import { API, cairn } from '../../lib/sdk';
import { useApiMutation } from '../../lib/query';
import { applyProblem, useZodForm } from '../../lib/forms';
import { formatTime } from '../../lib/format';
import { Button, Field, FormError, Select, TextInput } from '../../ui';
import { KEYS, type InsightSettings, type Tenant, type TenantUpdate } from './types';

/** "Saved at 14:03:07" after a save, "Unsaved changes" while edited; announced. */
function SaveState({ dirty, savedAt }: { dirty: boolean; savedAt: number | null }) {
  return (
    <span className="ops-save-state" role="status">
      {dirty ? 'Unsaved changes' : savedAt != null ? `Saved at ${formatTime(savedAt)}` : ''}
    </span>
  );
}

const confirmation = z.enum(['on', 'off', 'server']);
const tenantSchema = z.object({
  name: z.string().trim().min(1, 'Give the organisation a name').max(200, 'At most 200 characters')
    .refine((s) => !/[\r\n]/.test(s), 'One line only'),
  mfa_required_for_admins: z.boolean(),
  allow_registration: z.boolean(),
  registration_requires_confirmation: confirmation,
});
type TenantValues = z.input<typeof tenantSchema>;

function tenantValues(t: Tenant): TenantValues {
  return {
    name: t.name,
    mfa_required_for_admins: t.mfa_required_for_admins,
    allow_registration: t.allow_registration,
    registration_requires_confirmation: t.registration_requires_confirmation ? 'on' : 'off',
  };
}

/** The changed fields as the API's PATCH body. */
export function tenantPatch(v: z.output<typeof tenantSchema>, dirty: Partial<Record<keyof TenantValues, unknown>>): TenantUpdate {
  const body: TenantUpdate = {};
  if (dirty.name) body.name = v.name;
  if (dirty.mfa_required_for_admins) body.mfa_required_for_admins = v.mfa_required_for_admins;
  if (dirty.allow_registration) body.allow_registration = v.allow_registration;
  if (dirty.registration_requires_confirmation) {
    const c = v.registration_requires_confirmation;
    body.registration_requires_confirmation = c === 'server' ? null : c === 'on';
  }
  return body;
}

export function TenantForm({ tenant, sessionHasMfa, onSaved }: {
  tenant: Tenant;
  /** Whether the signed-in session was opened with a second factor (the policy's warning). */
  sessionHasMfa: boolean;
  onSaved?: (t: Tenant) => void;
}) {
  const form = useZodForm(tenantSchema, { defaultValues: tenantValues(tenant) });
  const { register, handleSubmit, reset, watch, formState: { errors, isDirty, dirtyFields } } = form;
  const [savedAt, setSavedAt] = useState<number | null>(null);
  const save = useApiMutation((body: TenantUpdate) => cairn.patch<Tenant>(`${API}/tenant`, body), { invalidate: [KEYS.tenant] });
  const mfaOn = watch('mfa_required_for_admins');
  const registration = watch('allow_registration');

  const submit = handleSubmit(async (v) => {
    const body = tenantPatch(v, dirtyFields);
    if (Object.keys(body).length === 0) return;
    try {
      const t = await save.mutateAsync(body);
      reset(tenantValues(t));
      setSavedAt(Date.now());
      onSaved?.(t);
    } catch (e) {
      applyProblem(form, e);
    }
  });

  return (
    <form onSubmit={submit} noValidate aria-labelledby="ops-tenant-form" className="card">
      <h2 id="ops-tenant-form">Organisation and sign-in</h2>
      <FormError form={form} />
      <Field label="Name" error={errors.name?.message}><TextInput {...register('name')} autoComplete="organization" /></Field>
      <fieldset className="ops-fieldset">
        <legend>Two-step verification</legend>
        <div className="checkbox">
          <input id="ops-mfa" type="checkbox" {...register('mfa_required_for_admins')}
            aria-describedby="ops-mfa-hint" aria-invalid={errors.mfa_required_for_admins ? true : undefined} />
          <label htmlFor="ops-mfa">Owners and admins must sign in with a second factor</label>
        </div>
        <p id="ops-mfa-hint" className="field-hint">Members and viewers are not concerned. An owner or admin signed in without a code can then only manage their own account until they sign in again with one.</p>
        {errors.mfa_required_for_admins && <p className="field-error">{errors.mfa_required_for_admins.message}</p>}
        {mfaOn && !tenant.mfa_required_for_admins && !sessionHasMfa && (
          <div className="notice notice-warning" role="alert">
            <p>Your own session was opened without a second factor: once this is saved, the administration pages refuse you until you set up two-step verification (Your account) and sign in again with a code.</p>
          </div>
        )}
      </fieldset>
      <fieldset className="ops-fieldset">
        <legend>Self-registration</legend>
        <div className="checkbox">
          <input id="ops-reg" type="checkbox" {...register('allow_registration')} aria-describedby="ops-reg-hint"
            aria-invalid={errors.allow_registration ? true : undefined} />
          <label htmlFor="ops-reg">Anyone may create an account here (as a member)</label>
        </div>
        <p id="ops-reg-hint" className="field-hint">People register at the sign-in page with this organisation's name.</p>
        {errors.allow_registration && <p className="field-error">{errors.allow_registration.message}</p>}
        <Field label="Confirmation by e-mail" error={errors.registration_requires_confirmation?.message}
          hint={registration ? 'Without confirmation, registering tells anyone whether an address has an account.' : 'Applies when self-registration is on.'}>
          <Select {...register('registration_requires_confirmation')}>
            <option value="on">Required: a link is mailed first</option>
            <option value="off">Not required: the account is created at once</option>
            <option value="server">The server's default (required when it can send mail)</option>
          </Select>
        </Field>
      </fieldset>
      <div className="form-actions">
        <Button type="submit" variant="primary" busy={save.isPending} disabled={!isDirty}>Save settings</Button>
        {isDirty && <Button onClick={() => reset()}>Discard changes</Button>}
        <SaveState dirty={isDirty} savedAt={savedAt} />
      </div>
    </form>
  );
}

/** Every IANA zone the browser knows, with UTC (which the list may leave out). */
export function timeZones(): string[] {
  const list = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  return list.includes('UTC') ? list : ['UTC', ...list];
}

const zoneSchema = z.object({ timezone: z.string().min(1, 'Choose a time zone') });

export function TimeZoneForm({ settings, canEdit }: { settings: InsightSettings; canEdit: boolean }) {
  const zones = useMemo(timeZones, []);
  const form = useZodForm(zoneSchema, { defaultValues: { timezone: settings.timezone } });
  const { register, handleSubmit, reset, watch, formState: { errors, isDirty } } = form;
  const [search, setSearch] = useState('');
  const [savedAt, setSavedAt] = useState<number | null>(null);
  const save = useApiMutation((v: { timezone: string }) => cairn.put<InsightSettings>(`${API}/insights/settings`, v),
    { invalidate: [KEYS.insightSettings, ['insights']] });
  const current = watch('timezone');
  const q = search.trim().toLowerCase().replace(/\s+/g, '_');
  const hits = useMemo(() => (q ? zones.filter((z) => z.toLowerCase().includes(q)) : zones), [zones, q]);
  // the chosen zone stays an option, so a search never changes the value
  const shown = hits.includes(current) || !current ? hits : [current, ...hits];
  useEffect(() => { reset({ timezone: settings.timezone }); }, [settings.timezone, reset]);

  const submit = handleSubmit(async (v) => {
    try {
      const s = await save.mutateAsync(v);
      reset({ timezone: s.timezone });
      setSavedAt(Date.now());
    } catch (e) {
      applyProblem(form, e);
    }
  });

  return (
    <form onSubmit={submit} noValidate aria-labelledby="ops-tz-form" className="card">
      <h2 id="ops-tz-form">Time zone of reports</h2>
      <p className="muted">Insights group days and weeks in this zone.</p>
      <FormError form={form} />
      {canEdit ? (
        <>
          <Field label="Search time zones" hint={`${hits.length} of ${zones.length} zones match`}>
            <TextInput type="search" value={search} onChange={(e) => setSearch(e.target.value)} autoComplete="off" />
          </Field>
          <Field label="Time zone" error={errors.timezone?.message}>
            <Select {...register('timezone')} size={8} className="ops-zone-list">
              {shown.map((z) => <option key={z} value={z}>{z.replace(/_/g, ' ')}</option>)}
            </Select>
          </Field>
          <div className="form-actions">
            <Button type="submit" variant="primary" busy={save.isPending} disabled={!isDirty}>Save time zone</Button>
            <SaveState dirty={isDirty} savedAt={savedAt} />
          </div>
        </>
      ) : (
        <p>{settings.timezone} <span className="muted">(changing it needs <code>insights.manage</code>)</span></p>
      )}
    </form>
  );
}
