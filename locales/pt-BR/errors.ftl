# O que deu errado, com as palavras das nossas páginas de erro e da escolha do servidor.

## Títulos da página de erro

error-heading-unavailable = Tente de novo daqui a pouco
error-heading-not-found = Página não encontrada
error-heading-upstream = Seu servidor não conseguiu fazer você entrar
error-heading-too-many = Muitas entradas agora
error-heading-cannot-continue = Esta entrada não pode continuar

## Pedidos que não conseguimos ler

error-not-found = Não há nada neste endereço.
error-timeout = Isso demorou demais. Tente de novo.
error-unavailable = O serviço está indisponível no momento. Tente de novo daqui a pouco.
error-bad-location = O endereço para continuar é inválido.
error-request-too-large = O pedido de entrada é grande demais.
error-request-not-form = O pedido de entrada não foi enviado como formulário.
error-request-not-text = O pedido de entrada não é um texto válido.
error-request-malformed = O pedido de entrada está malformado ({ $detail }).
error-callback-malformed = O endereço para onde você voltou está malformado.
error-form-unreadable = Não foi possível ler o formulário.
error-choose-allow-deny = Escolha Permitir ou Negar.
error-csrf = O formulário não foi enviado desta página de entrada. Recarregue a página e tente de novo.
error-cross-site = Este formulário foi enviado de outro site. Volte ao aplicativo e entre de novo.

## O aplicativo e o pedido dele

error-unknown-client = O aplicativo que mandou você para cá não está registrado neste serviço.
error-no-client-id = O pedido não diz qual é o aplicativo (falta client_id).
error-no-redirect-uri = O aplicativo não disse para onde mandar você de volta (falta redirect_uri).
error-unregistered-redirect = O aplicativo quer mandar você de volta para um endereço que ele não registrou.
error-client-gone = O aplicativo em que você estava entrando não está mais registrado.
error-client-address-invalid = O endereço do aplicativo é inválido.

## A entrada em si

error-expired = Esta entrada expirou ou já foi concluída. Volte ao aplicativo e comece de novo.
error-pushed-expired = Este pedido de entrada expirou ou já foi usado. Volte ao aplicativo e comece de novo.
error-other-browser = Esta entrada começou em outro navegador, ou seu navegador não guardou nosso cookie.
    Volte ao aplicativo e comece de novo.
error-callback-no-state = O servidor mandou você de volta sem as informações de que precisamos. Comece de novo pelo aplicativo.
error-mix-up = Esta resposta veio de um servidor diferente do que você escolheu. Comece de novo pelo aplicativo.
error-upstream-reported = Seu servidor informou um erro ({ $error }). Você pode tentar de novo ou escolher outro servidor.
error-upstream-no-code = Seu servidor mandou você de volta sem um código de entrada. Tente de novo.
error-app-changed = Nosso registro no seu servidor mudou enquanto você entrava. Tente de novo.
error-account-check-failed = { $instance } não respondeu quando verificamos sua conta ({ $detail }).
    Tente de novo daqui a pouco.
error-wrong-account = Você pediu para entrar como { $expected }, mas { $instance } fez você entrar como { $actual }.
    Troque de conta lá ou escolha seu servidor de novo.
error-identity = { $instance } não identificou sua conta direito, então não podemos garantir quem você é.

## O que foi digitado na escolha do servidor

handle-empty = Digite seu endereço do Fediverso, como @voce@example.social, ou seu servidor, como example.social.
handle-invalid = Isso não parece um endereço do Fediverso nem um nome de servidor. Tente @voce@example.social ou example.social.
handle-not-https = Só dá para usar servidores com https://.

## O servidor da pessoa

upstream-blocked = { $instance } não pode ser usado com este serviço.
upstream-unreachable = Não conseguimos acessar { $instance }. Confira como está escrito ou tente de novo mais tarde.
upstream-timeout = { $instance } não respondeu a tempo. Tente de novo mais tarde.
upstream-busy = { $instance } está sobrecarregado agora. Tente de novo em alguns minutos.
upstream-unavailable = { $instance } está com problemas agora. Tente de novo mais tarde.
upstream-not-compatible = { $instance } não parece um servidor com que possamos fazer você entrar (Mastodon, Misskey e afins).
upstream-rejected = { $instance } se recusou a fazer você entrar aqui.
upstream-oauth-disabled = { $instance } não permite que aplicativos façam pessoas entrarem: a administração desativou isso.
    Entre com uma conta de outro servidor.
upstream-no-secure-sign-in = { $instance } não oferece uma entrada segura para aplicativos: ele é antigo demais (Misskey anterior a 2023.9,
    ou um fork sem o OAuth 2.0 dele). Peça à administração para atualizar ou entre com uma conta de outro servidor.
upstream-redirected = { $instance } nos manda para outro endereço. Se sua conta fica em outro servidor, digite o nome desse servidor.
upstream-internal = Algo deu errado ao falar com { $instance }. Tente de novo.

## As regras de quem opera o serviço

refusal-instance-denied = Este serviço não aceita contas de { $instance }: quem o opera bloqueou esse servidor.
refusal-instance-not-allowed = Este serviço só aceita contas dos servidores escolhidos por quem o opera, e { $instance } não é um deles.
refusal-bot = { $handle } é uma conta de robô. Este serviço só aceita contas de pessoas, não robôs.
refusal-too-new = { $handle } é nova demais para entrar aqui: este serviço aceita contas com pelo menos { $days ->
        [one] um dia
       *[other] { $days } dias
    } de existência. Tente de novo mais tarde.
refusal-age-unknown = Seu servidor não informou quando { $handle } foi criada, e este serviço só aceita contas com pelo menos { $days ->
        [one] um dia
       *[other] { $days } dias
    } de existência, então não pode deixar você entrar.
refusal-locked = { $handle } é uma conta trancada (ela aprova quem a segue). Este serviço não aceita contas trancadas.
refusal-suspended = Seu servidor informa que { $handle } está suspensa. Este serviço não aceita contas suspensas.
refusal-limited = Seu servidor informa que { $handle } foi limitada pela moderação. Este serviço não aceita contas limitadas.

## Limites contra abuso

limit-logins = Muitas entradas foram iniciadas agora há pouco na sua rede ou neste serviço.
    Espere um pouco e tente de novo.
limit-picker = Muitos servidores foram testados agora há pouco na sua rede. Espere um pouco e tente de novo.
limit-new-instances = Este serviço configurou a entrada com muitos servidores novos recentemente e não pode adicionar o seu agora.
    Tente de novo mais tarde.
limit-api = Pedidos demais. Espere um pouco e tente de novo.

## Sair

logout-unreadable = Não foi possível ler o pedido para sair.
logout-malformed = O pedido para sair está malformado.
logout-bad-hint = O aplicativo enviou um pedido para sair inválido (o id_token_hint não é nosso).
logout-client-mismatch = O aplicativo enviou um pedido para sair inválido (o client_id não confere).
logout-unregistered-redirect = O aplicativo quer mandar você para um endereço que ele não registrou.
logout-csrf = O formulário não foi enviado da nossa página de saída. Volte ao aplicativo e saia de novo.
