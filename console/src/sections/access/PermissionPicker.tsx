// Choosing permissions from the server's catalogue (GET /api/v1/permissions): one group per
// module, each permission a checkbox with its name and description. Permissions the user
// does not hold are shown but cannot be chosen (the API refuses to hand out more than the
// caller holds); operator-only ones (no built-in role holds them) and self.* are left out.
import { useId } from 'react';
import { groupByModule, type Permission } from './api';

export interface PermissionPickerProps {
  /** The catalogue, in the server's order. */
  catalogue: readonly Permission[];
  /** The chosen permission names. */
  value: readonly string[];
  onChange: (value: string[]) => void;
  /** Whether the user may grant a permission (their own role's); default: every one. */
  canGrant?: (permission: string) => boolean;
  /** The group's accessible name ("Permissions of the role"). */
  legend: string;
  error?: string;
  hint?: string;
}

/** The catalogue without operator-only permissions (no tenant role may hold them) and
 *  without self.* (every role holds them anyway; a key has no account of its own). */
export function grantable(catalogue: readonly Permission[]): Permission[] {
  return catalogue.filter((p) => p.roles.length > 0 && !p.name.startsWith('self.'));
}

export function PermissionPicker({ catalogue, value, onChange, canGrant = () => true, legend, error, hint }: PermissionPickerProps) {
  const id = useId();
  const chosen = new Set(value);
  const groups = groupByModule(grantable(catalogue));
  const toggle = (name: string, on: boolean) => {
    const next = new Set(chosen);
    if (on) next.add(name);
    else next.delete(name);
    // keep the catalogue's order, so what is sent reads like what is shown
    onChange(catalogue.map((p) => p.name).filter((n) => next.has(n)));
  };
  const setGroup = (perms: Permission[], on: boolean) => {
    const next = new Set(chosen);
    for (const p of perms) if (canGrant(p.name)) (on ? next.add(p.name) : next.delete(p.name));
    onChange(catalogue.map((p) => p.name).filter((n) => next.has(n)));
  };
  const describedBy = [hint && `${id}-hint`, error && `${id}-error`].filter(Boolean).join(' ') || undefined;
  return (
    <fieldset className="perm-picker" aria-describedby={describedBy} aria-invalid={error ? true : undefined}>
      <legend className="field-label">{legend}</legend>
      {hint && <p id={`${id}-hint`} className="field-hint">{hint}</p>}
      <p className="muted perm-count" aria-live="polite">{chosen.size === 1 ? '1 permission chosen' : `${chosen.size} permissions chosen`}</p>
      {groups.map((g) => {
        const open = g.permissions.filter((p) => canGrant(p.name));
        const all = open.length > 0 && open.every((p) => chosen.has(p.name));
        return (
          <fieldset key={g.module} className="perm-group">
            <legend className="perm-group-title">{g.module}</legend>
            {open.length > 1 && (
              <button type="button" className="btn btn-ghost btn-small perm-group-all" onClick={() => setGroup(g.permissions, !all)}
                aria-label={`${all ? 'Clear' : 'Choose all of'} ${g.module}`}>
                {all ? 'Clear' : 'Choose all'}
              </button>
            )}
            <ul className="perm-list">
              {g.permissions.map((p) => {
                const allowed = canGrant(p.name);
                const inputId = `${id}-${p.name}`;
                return (
                  <li key={p.name} className="perm-item">
                    <input id={inputId} type="checkbox" checked={chosen.has(p.name)} disabled={!allowed}
                      aria-describedby={`${inputId}-d`} onChange={(e) => toggle(p.name, e.target.checked)} />
                    <div className="perm-text">
                      <label htmlFor={inputId}><code>{p.name}</code></label>
                      <span id={`${inputId}-d`} className="perm-desc">
                        {p.description}{allowed ? '' : ' (your role does not hold it, so you cannot grant it)'}
                      </span>
                    </div>
                  </li>
                );
              })}
            </ul>
          </fieldset>
        );
      })}
      {error && <p id={`${id}-error`} className="field-error" role="alert">{error}</p>}
    </fieldset>
  );
}
