// /access: the first administration page the role opens, or "Not allowed" when none.
import { Redirect } from 'wouter';
import { useAccount } from '../../app/auth';
import { Forbidden } from '../../app/NotFound';
import { section } from './section';

export default function AccessHome() {
  const account = useAccount();
  const first = section.nav.find((n) => account.can(n.permission));
  if (!first) return <Forbidden permission="users.manage" />;
  return <Redirect to={`${section.base}${first.path}`} replace />;
}
