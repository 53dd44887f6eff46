// The navigation, built from the sections the user may see.
import { Link, useLocation } from 'wouter';
import type { NavEntry, Section } from '../sections/types';
import { joinPath } from './permissions';

function isCurrent(location: string, href: string): boolean {
  return href === '/' ? location === '/' : location === href || location.startsWith(`${href}/`);
}

export function Nav({ sections, open, onNavigate }: {
  sections: (Section & { nav: NavEntry[] })[]; open: boolean; onNavigate: () => void;
}) {
  const [location] = useLocation();
  // the longest matching entry is the current one ('/insights/customers' over '/insights')
  const hrefs = sections.flatMap((s) => s.nav.map((n) => joinPath(s.base, n.path)));
  const current = hrefs.filter((h) => isCurrent(location, h)).sort((a, b) => b.length - a.length)[0];
  return (
    <nav id="app-nav" className="app-nav" aria-label="Sections" data-open={open}>
      {sections.map((s) => (
        <div key={s.id}>
          {sections.length > 1 && s.nav.length > 1 && <p className="app-nav-group" id={`nav-${s.id}`}>{s.title}</p>}
          <ul aria-labelledby={sections.length > 1 && s.nav.length > 1 ? `nav-${s.id}` : undefined}>
            {s.nav.map((n) => {
              const href = joinPath(s.base, n.path);
              return (
                <li key={href}>
                  <Link href={href} aria-current={href === current ? 'page' : undefined} onClick={onNavigate}>{n.label}</Link>
                </li>
              );
            })}
          </ul>
        </div>
      ))}
    </nav>
  );
}
