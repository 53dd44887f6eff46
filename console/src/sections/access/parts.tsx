// Pieces the access pages share: permissions shown as chips, the permission catalogue query.
import { useState } from 'react';
import { useApiQuery, type Page } from '../../lib/query';
import { Button } from '../../ui';
import { PERMISSIONS, paths, type Permission } from './api';

/** Permission names as chips; past `max`, a button shows the rest. `of` names the owner
 *  ("the role owner") for the button's accessible name. */
export function PermissionChips({ names, max = 8, of }: { names: readonly string[]; max?: number; of: string }) {
  const [all, setAll] = useState(false);
  const shown = all ? names : names.slice(0, max);
  return (
    <ul className="chips" aria-label={`Permissions of ${of}`}>
      {shown.map((n) => <li key={n} className="chip"><code>{n}</code></li>)}
      {names.length > max && (
        <li>
          <Button size="small" variant="link" aria-expanded={all} onClick={() => setAll((a) => !a)}
            aria-label={all ? `Show fewer permissions of ${of}` : `Show ${names.length - max} more permissions of ${of}`}>
            {all ? 'Fewer' : `${names.length - max} more`}
          </Button>
        </li>
      )}
    </ul>
  );
}

/** The catalogue of permissions (one page, in module order). */
export function usePermissionCatalogue() {
  return useApiQuery<Page<Permission>>(PERMISSIONS, paths.permissions, undefined, { staleTime: 5 * 60_000 });
}

