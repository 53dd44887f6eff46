// The filters in the URL: reading them from the query string and changing them by pushing a
// new history entry (so back and forward walk through the views).
import { useCallback, useMemo } from 'react';
import { useLocation, useSearch } from 'wouter';
import { parseFilters, serializeFilters, type Filters } from './filters';

export function useFilters(): [Filters, (change: Partial<Filters>) => void] {
  const search = useSearch();
  const [location, navigate] = useLocation();
  const filters = useMemo(() => parseFilters(search), [search]);
  const set = useCallback((change: Partial<Filters>) => {
    const qs = serializeFilters({ ...filters, ...change });
    if (qs === serializeFilters(filters)) return;
    performance.mark('insights:filter');
    navigate(qs ? `${location}?${qs}` : location);
  }, [filters, location, navigate]);
  return [filters, set];
}
