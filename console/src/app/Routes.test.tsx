import { lazy } from 'react';
import { render, screen } from '@testing-library/react';
import { Router } from 'wouter';
import { memoryLocation } from 'wouter/memory-location';
import type { Section } from '../sections/types';
import { SectionRoutes } from './Routes';
import { Nav } from './Nav';
import { canFrom } from './permissions';
import { visibleSections } from './permissions';

function Page({ name }: { name: string }) {
  return <h1>{name}</h1>;
}

const admin: Section = {
  id: 'admin',
  title: 'Administration',
  base: '/admin',
  permission: 'users.manage',
  nav: [{ label: 'Members', path: '/' }, { label: 'API keys', path: '/keys', permission: 'api_keys.manage' }],
  routes: [
    { path: '/', component: lazy(async () => ({ default: () => <Page name="Members page" /> })) },
    { path: '/keys', component: lazy(async () => ({ default: () => <Page name="Keys page" /> })), permission: 'api_keys.manage' },
  ],
};
const home: Section = {
  id: 'home', title: 'Overview', base: '/', nav: [{ label: 'Overview', path: '/' }],
  routes: [{ path: '/', component: lazy(async () => ({ default: () => <Page name="Home page" /> })) }],
};

function at(path: string, permissions: string[]) {
  const can = canFrom(new Set(permissions));
  const { hook } = memoryLocation({ path });
  return render(
    <Router hook={hook}>
      <Nav sections={visibleSections([home, admin], can)} open={false} onNavigate={() => {}} />
      <SectionRoutes sections={[home, admin]} can={can} />
    </Router>,
  );
}

describe('sections: routes and navigation by permission', () => {
  test("a section's page opens for a role holding its permission, and its nav entries show", async () => {
    at('/admin', ['users.manage', 'api_keys.manage']);
    expect(await screen.findByRole('heading', { name: 'Members page' })).toBeTruthy();
    expect(screen.getByRole('link', { name: 'Members' }).getAttribute('aria-current')).toBe('page');
    expect(screen.getByRole('link', { name: 'API keys' })).toBeTruthy();
  });

  test('without the permission: not in the nav, and the page says it is not allowed', async () => {
    at('/admin', ['users.read']);
    expect(await screen.findByRole('heading', { name: 'Not allowed' })).toBeTruthy();
    expect(screen.queryByRole('heading', { name: 'Members page' })).toBeNull();
    expect(screen.queryByRole('link', { name: 'Members' })).toBeNull();
  });

  test("a page's own permission hides its entry and guards its route", async () => {
    at('/admin/keys', ['users.manage']);
    expect(await screen.findByRole('heading', { name: 'Not allowed' })).toBeTruthy();
    expect(screen.getByText('api_keys.manage')).toBeTruthy();
    expect(screen.queryByRole('link', { name: 'API keys' })).toBeNull();
  });

  test('an unknown address is a 404 page', async () => {
    at('/nowhere', []);
    expect(await screen.findByRole('heading', { name: 'Page not found' })).toBeTruthy();
  });
});
