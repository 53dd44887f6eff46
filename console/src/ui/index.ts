// The shared components: import from '../../ui' in a section.
export { Button, type ButtonProps } from './Button';
export { Field, TextInput, TextArea, Select, FormError, type FieldProps, type SelectProps } from './Field';
export { DataTable, type DataTableProps, type ColumnDef, type ColumnMeta, type SortingState } from './DataTable';
export { Skeleton, PageSkeleton } from './Skeleton';
export { EmptyState } from './EmptyState';
export { ErrorNotice } from './ErrorNotice';
export { Dialog, type DialogProps } from './Dialog';
export { Tabs, type TabItem } from './Tabs';
export { Kpi, type KpiProps } from './Kpi';
export { ToastProvider, useToast, type ToastTone } from './Toast';
export { PageHeader } from './PageHeader';
export { LiveBadge } from './LiveBadge';
