// /operations: the first page of the section the role may open, else "not allowed".
import { Redirect } from 'wouter';
import { useAccount } from '../../app/auth';
import { Forbidden } from '../../app/NotFound';
import { joinPath } from '../../app/permissions';
import { section } from './section';

export default function OperationsIndex() {
  const account = useAccount();
  const first = section.nav.find((n) => account.can(n.permission));
  if (!first) return <Forbidden permission={section.nav[0].permission} />;
  return <Redirect to={joinPath(section.base, first.path)} replace />;
}
