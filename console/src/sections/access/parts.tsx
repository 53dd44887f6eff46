// Pieces the access pages share: permissions shown as chips, the permission catalogue query.
import { useState } from 'react';
import { useApiQuery, type Page } from '../../lib/query';
import { Button } from '../../ui';
import { PERMISSIONS, paths, type Permission } from './api';

export function PermissionChips({ names, max = 8 }: { names: readonly string[]; max?: number }) {
  const [all, setAll] = useState(false);
  const shown = all ? names : names.slice(0, max);
  return (
    <ul className="chips" aria-label="Permissions">
      {shown.map((n) => <li key={n} className="chip"><code>{n}</code></li>)}
      {names.length > max && (
        <li><Button size="small" variant="link" onClick={() => setAll((a) => !a)}>{all ? 'Fewer' : `${names.length - max} more`}</Button></li>
      )}
    </ul>
  );
}

/** The catalogue of permissions (one page, in module order). */
export function usePermissionCatalogue() {
  return useApiQuery<Page<Permission>>(PERMISSIONS, paths.permissions, undefined, { staleTime: 5 * 60_000 });
}

