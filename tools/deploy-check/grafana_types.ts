// The types tsc checks deploy/grafana/dashboards/*.json against
// (check_dashboards.mjs): @grafana/schema's Dashboard, with each panel type
// the dashboards use narrowed to its own options and field config, and
// Prometheus targets pinned to the provisioned datasource. Object literals
// of these types get excess-property checks, so an unknown field anywhere
// (a misspelt option, a field of another panel type) fails, as does a wrong
// type.
import type * as schema from '@grafana/schema';
import type * as heatmap from '@grafana/schema/dist/esm/raw/composable/heatmap/panelcfg/x/HeatmapPanelCfg_types.gen';
import type * as stat from '@grafana/schema/dist/esm/raw/composable/stat/panelcfg/x/StatPanelCfg_types.gen';
import type * as timeseries from '@grafana/schema/dist/esm/raw/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen';

// JSON holds an enum's value ("opacity"), which TypeScript does not accept
// for a string enum type: map every string type to its literal values,
// recursively. Numbers, booleans and plain strings are unchanged.
export type Json<T> = T extends string
  ? `${T}`
  : T extends ReadonlyArray<infer U>
    ? Array<Json<U>>
    : T extends object
      ? { [K in keyof T]: Json<T[K]> }
      : T;

// The datasource provisioned by deploy/grafana/provisioning/datasources.
export interface GorlDatasource {
  type: 'prometheus';
  uid: 'gorl-prometheus';
}

// A Prometheus query as Grafana stores it (the schema package has no
// Prometheus query type: these are the fields Grafana's editor writes).
export interface PromTarget {
  refId: string;
  datasource: GorlDatasource;
  expr: string;
  legendFormat?: string;
  format?: 'time_series' | 'heatmap' | 'table';
  instant?: boolean;
  range?: boolean;
  interval?: string;
  hide?: boolean;
  editorMode?: 'code' | 'builder';
}

type FieldConfigOf<Custom> = Omit<Json<schema.FieldConfig>, 'custom'> & { custom?: Json<Custom> };
type FieldConfigSourceOf<Custom> = Omit<Json<schema.FieldConfigSource>, 'defaults'> & {
  defaults: FieldConfigOf<Custom>;
};
type PanelOf<Type extends string, Options, Custom> = Omit<
  Json<schema.Panel>,
  'type' | 'options' | 'fieldConfig' | 'targets' | 'datasource'
> & {
  type: Type;
  id: number;
  title: string;
  gridPos: Json<schema.GridPos>;
  datasource: GorlDatasource;
  targets: PromTarget[];
  options: Json<Options>;
  fieldConfig: FieldConfigSourceOf<Custom>;
};

export type GorlPanel =
  | PanelOf<'timeseries', timeseries.Options, timeseries.FieldConfig>
  | PanelOf<'stat', stat.Options, Record<string, never>>
  | PanelOf<'heatmap', heatmap.Options, heatmap.FieldConfig>;

export type GorlVariable = Omit<Json<schema.VariableModel>, 'datasource'> & {
  datasource: GorlDatasource;
};

export type GorlDashboard = Omit<Json<schema.Dashboard>, 'panels' | 'templating'> & {
  uid: string;
  title: string;
  panels: GorlPanel[];
  templating: { list: GorlVariable[] };
};
