// Tenant settings: the organisation's policies and the time zone of its reports.
import { API } from '../../lib/sdk';
import { useApiQuery } from '../../lib/query';
import { useAccount } from '../../app/auth';
import { ErrorNotice, PageHeader, Skeleton } from '../../ui';
import { TenantForm, TimeZoneForm } from './SettingsForms';
import { KEYS, type InsightSettings, type Tenant } from './types';
import './operations.css';

function CardSkeleton({ title, lines }: { title: string; lines: number }) {
  return (
    <section className="card" aria-busy="true" aria-label={title}>
      <h2>{title}</h2>
      <Skeleton lines={lines} />
    </section>
  );
}

export default function SettingsPage() {
  const account = useAccount();
  const tenant = useApiQuery<Tenant>(KEYS.tenant, `${API}/tenant`);
  const canZone = account.can('insights.read');
  const zone = useApiQuery<InsightSettings>(KEYS.insightSettings, `${API}/insights/settings`, undefined, { enabled: canZone });
  return (
    <>
      <PageHeader title="Settings" />
      <div className="stack ops-settings">
        {tenant.data
          ? <TenantForm key={tenant.data.id} tenant={tenant.data} sessionHasMfa={account.mfa} />
          : tenant.error ? <ErrorNotice error={tenant.error} onRetry={() => void tenant.refetch()} />
          : <CardSkeleton title="Organisation and sign-in" lines={9} />}
        {canZone && (zone.data
          ? <TimeZoneForm settings={zone.data} canEdit={account.can('insights.manage')} />
          : zone.error ? <ErrorNotice error={zone.error} onRetry={() => void zone.refetch()} />
          : <CardSkeleton title="Time zone of reports" lines={6} />)}
      </div>
    </>
  );
}
