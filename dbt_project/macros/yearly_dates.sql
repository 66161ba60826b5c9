{# The date in year `y` with the month and day of date `d`; Feb 29 falls on Feb 28 when `y` is not a leap year.
   make_date exists on DuckDB, PostgreSQL and Spark; the integer casts keep PostgreSQL's numeric extract out. #}
{% macro same_day_in_year(d, y) -%}
    make_date(
        cast({{ y }} as integer),
        cast(extract(month from {{ d }}) as integer),
        cast(case
            when extract(month from {{ d }}) = 2 and extract(day from {{ d }}) = 29
                and not ((cast({{ y }} as integer) % 4 = 0 and cast({{ y }} as integer) % 100 != 0)
                         or cast({{ y }} as integer) % 400 = 0)
                then 28
            else extract(day from {{ d }})
        end as integer)
    )
{%- endmacro %}

{# The next yearly recurrence of date `d` (a birthday, an anniversary) on or after D. #}
{% macro next_yearly_date(d) -%}
    case
        when {{ same_day_in_year(d, 'extract(year from ' ~ as_of_date() ~ ')') }} >= {{ as_of_date() }}
            then {{ same_day_in_year(d, 'extract(year from ' ~ as_of_date() ~ ')') }}
        else {{ same_day_in_year(d, 'extract(year from ' ~ as_of_date() ~ ') + 1') }}
    end
{%- endmacro %}
