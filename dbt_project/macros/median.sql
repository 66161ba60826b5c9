{# The median of `column` over the rows of `relation` (a CTE or model) as a scalar subquery: the mean of the
   middle one or two values, like quantile_cont(0.5), written with window functions so every engine gives the
   same double. Nulls are ignored; null when there are no rows. #}
{% macro median_of(relation, column) -%}
    (
        select avg(cast(value as {{ type_double() }}))
        from (
            select
                {{ column }} as value,
                row_number() over (order by {{ column }}) as position,
                count(*) over () as n
            from {{ relation }}
            where {{ column }} is not null
        ) as ranked
        where position in (floor((n + 1) / 2.0), ceil((n + 1) / 2.0))
    )
{%- endmacro %}
